using System.Collections.Concurrent;
using k8s;
using k8s.Models;

namespace Orchestration.Informers;

/// <summary>
/// An informer's local copy of the objects it watches, by key (<c>namespace/name</c>, or the name
/// of a cluster-scoped object) and by the indexes a controller adds (pods by node, objects by
/// owner). Objects in it are shared: treat them as read-only and copy before changing one.
/// </summary>
public sealed class ObjectCache<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly ConcurrentDictionary<string, T> _items = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Func<T, IEnumerable<string>>> _indexers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Index, string Value), ConcurrentDictionary<string, byte>> _indexes = new();
    private readonly Lock _sync = new();

    /// <summary>The key of an object: <c>namespace/name</c>, or the name when it has no namespace.</summary>
    public static string KeyOf(T obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return KeyOf(obj.Metadata.NamespaceProperty, obj.Metadata.Name);
    }

    /// <summary>The key of an object by namespace and name.</summary>
    public static string KeyOf(string? @namespace, string name) => string.IsNullOrEmpty(@namespace) ? name : $"{@namespace}/{name}";

    /// <summary>How many objects the cache holds.</summary>
    public int Count => _items.Count;

    /// <summary>Adds an index: <paramref name="values"/> gives the index values of an object.</summary>
    public void AddIndex(string name, Func<T, IEnumerable<string>> values)
    {
        lock (_sync)
        {
            if (!_indexers.TryAdd(name, values))
            {
                return;
            }

            foreach (var (key, item) in _items)
            {
                foreach (var value in values(item))
                {
                    _indexes.GetOrAdd((name, value), _ => new(StringComparer.Ordinal))[key] = 0;
                }
            }
        }
    }

    /// <summary>One object, or null.</summary>
    public T? Get(string? @namespace, string name) => _items.GetValueOrDefault(KeyOf(@namespace, name));

    /// <summary>Every object, or those of one namespace.</summary>
    public IReadOnlyList<T> List(string? @namespace = null) =>
        @namespace is null ? _items.Values.ToList() : _items.Values.Where(i => i.Metadata.NamespaceProperty == @namespace).ToList();

    /// <summary>The objects whose index <paramref name="index"/> has <paramref name="value"/>.</summary>
    public IReadOnlyList<T> ByIndex(string index, string value) =>
        _indexes.TryGetValue((index, value), out var keys)
            ? keys.Keys.Select(k => _items.GetValueOrDefault(k)).OfType<T>().ToList()
            : [];

    /// <summary>Stores an object and returns the one it replaced.</summary>
    internal T? Put(T obj)
    {
        var key = KeyOf(obj);
        lock (_sync)
        {
            _items.TryGetValue(key, out var old);
            _items[key] = obj;
            Reindex(key, old, obj);
            return old;
        }
    }

    /// <summary>Removes an object by key and returns it.</summary>
    internal T? Remove(string key)
    {
        lock (_sync)
        {
            if (!_items.TryRemove(key, out var old))
            {
                return null;
            }

            Reindex(key, old, null);
            return old;
        }
    }

    internal IReadOnlyCollection<string> Keys => _items.Keys.ToList();

    private void Reindex(string key, T? old, T? now)
    {
        foreach (var (name, values) in _indexers)
        {
            if (old is not null)
            {
                foreach (var value in values(old))
                {
                    if (_indexes.TryGetValue((name, value), out var set))
                    {
                        set.TryRemove(key, out _);
                    }
                }
            }

            if (now is not null)
            {
                foreach (var value in values(now))
                {
                    _indexes.GetOrAdd((name, value), _ => new(StringComparer.Ordinal))[key] = 0;
                }
            }
        }
    }
}
