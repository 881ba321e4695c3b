using k8s;
using k8s.Models;
using Orchestration.Informers;

namespace Orchestration.Controllers;

/// <summary>What a controller watches: its primary kind, the kinds it owns, and others mapped to keys.</summary>
public sealed class ControllerBuilder
{
    private readonly List<Action<InformerFactory, Action<ObjectKey>>> _sources = [];

    /// <summary>The controller's name in logs and metrics.</summary>
    public string Name { get; set; } = "";

    /// <summary>How many keys it reconciles at once.</summary>
    public int Workers { get; set; } = 2;

    internal IReadOnlyList<Action<InformerFactory, Action<ObjectKey>>> Sources => _sources;

    /// <summary>The primary kind: a change of one of its objects reconciles that object's key.</summary>
    public ControllerBuilder For<T>()
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        _sources.Add((factory, enqueue) =>
        {
            var informer = factory.For<T>();
            informer.Added += o => enqueue(KeyOf(o));
            informer.Updated += (_, o) => enqueue(KeyOf(o));
            informer.Deleted += o => enqueue(KeyOf(o));
        });
        return this;
    }

    /// <summary>A kind the primary kind owns: a change of one reconciles its controlling owner of kind <typeparamref name="TOwner"/>.</summary>
    public ControllerBuilder Owns<TChild, TOwner>()
        where TChild : class, IKubernetesObject<V1ObjectMeta>
        where TOwner : class, IKubernetesObject<V1ObjectMeta>
    {
        var ownerKind = typeof(TOwner).GetCustomAttributes(typeof(KubernetesEntityAttribute), false).OfType<KubernetesEntityAttribute>().Single().Kind;
        return Watches<TChild>(child => (child.Metadata.OwnerReferences ?? [])
            .Where(o => o.Controller == true && o.Kind == ownerKind)
            .Select(o => new ObjectKey(child.Metadata.NamespaceProperty, o.Name)));
    }

    /// <summary>Another kind: a change of one of its objects reconciles the keys <paramref name="map"/> gives.</summary>
    public ControllerBuilder Watches<T>(Func<T, IEnumerable<ObjectKey>> map)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(map);
        return Watches<T>((_, obj) => map(obj));
    }

    /// <summary>
    /// Another kind, mapped to keys with the help of the shared informers' caches (a pod to the
    /// Services whose selectors match it).
    /// </summary>
    public ControllerBuilder Watches<T>(Func<InformerFactory, T, IEnumerable<ObjectKey>> map)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(map);
        _sources.Add((factory, enqueue) =>
        {
            var informer = factory.For<T>();
            void Each(T o)
            {
                foreach (var key in map(factory, o))
                {
                    enqueue(key);
                }
            }

            informer.Added += Each;
            informer.Updated += (old, now) =>
            {
                Each(old);
                Each(now);
            };
            informer.Deleted += Each;
        });
        return this;
    }

    private static ObjectKey KeyOf<T>(T obj)
        where T : class, IKubernetesObject<V1ObjectMeta> => new(obj.Metadata.NamespaceProperty, obj.Metadata.Name);
}
