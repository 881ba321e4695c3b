using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources;

public sealed partial class ObjectRegistry
{
    private const int ScanPage = 500;

    /// <summary>Lists objects as one snapshot, page by page with continue tokens.</summary>
    public async Task<ObjectList<T>> ListAsync<T>(string? @namespace, ListOptions? options, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        options ??= new ListOptions();
        var kind = Kinds.For<T>();
        var labels = LabelSelector.Parse(options.LabelSelector);
        var fields = FieldSelector.Parse(options.FieldSelector);
        if (options.Limit < 0)
        {
            throw new BadRequestException($"limit must not be negative (got {options.Limit})");
        }

        var prefix = PrefixFor(kind, kind.Namespaced ? @namespace : null);
        var (revision, startAfter) = ContinueToken.Parse(options.Continue, prefix);
        var filtered = !labels.IsEmpty || !fields.IsEmpty;
        var items = new List<T>();
        string? next = null;
        try
        {
            while (true)
            {
                var page = await store.RangeAsync(
                    new RangeRequest { Prefix = prefix, Revision = revision, StartAfter = startAfter, Limit = filtered || options.Limit == 0 ? (options.Limit == 0 ? 0 : ScanPage) : options.Limit },
                    cancellationToken).ConfigureAwait(false);
                revision = page.Revision;
                for (var i = 0; i < page.Items.Count; i++)
                {
                    var kv = page.Items[i];
                    var obj = Decode<T>(kv);
                    if (filtered && !Matches(labels, fields, kv, obj))
                    {
                        continue;
                    }

                    items.Add(obj);
                    if (options.Limit > 0 && items.Count == options.Limit)
                    {
                        if (i < page.Items.Count - 1 || page.HasMore)
                        {
                            next = ContinueToken.Create(revision, kv.Key);
                        }

                        return new ObjectList<T>(items, revision.ToString(CultureInfo.InvariantCulture), next);
                    }
                }

                if (!page.HasMore || page.Items.Count == 0)
                {
                    return new ObjectList<T>(items, revision.ToString(CultureInfo.InvariantCulture), null);
                }

                startAfter = page.Items[^1].Key;
            }
        }
        catch (CompactedException ex)
        {
            throw new GoneException("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.", ex);
        }
    }

    /// <summary>Watches objects of one kind: see <see cref="IClusterWatcher.WatchAsync{T}"/>.</summary>
    public async IAsyncEnumerable<ObjectEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        options ??= new WatchOptions();
        var kind = Kinds.For<T>();
        var labels = LabelSelector.Parse(options.LabelSelector);
        var fields = FieldSelector.Parse(options.FieldSelector);
        var prefix = PrefixFor(kind, kind.Namespaced ? @namespace : null);
        long after;
        if (string.IsNullOrEmpty(options.ResourceVersion) || options.ResourceVersion == "0")
        {
            // Kubernetes's "start at most recent": the current objects as Added, then changes.
            var current = await store.RangeAsync(new RangeRequest { Prefix = prefix }, cancellationToken).ConfigureAwait(false);
            after = current.Revision;
            foreach (var kv in current.Items)
            {
                var obj = Decode<T>(kv);
                if (Matches(labels, fields, kv, obj))
                {
                    yield return new ObjectEvent<T>(WatchEventType.Added, obj);
                }
            }
        }
        else
        {
            after = ParseResourceVersion(options.ResourceVersion)!.Value;
        }

        IStateWatch watch;
        try
        {
            watch = await store.WatchAsync(new WatchRequest { Key = prefix, Prefix = true, AfterRevision = after }, cancellationToken).ConfigureAwait(false);
        }
        catch (CompactedException ex)
        {
            throw new GoneException($"too old resource version: {after} ({ex.CompactRevision})", ex);
        }
        catch (FutureRevisionException ex)
        {
            throw new GoneException($"resource version {after} is newer than the store's {ex.CurrentRevision}", ex);
        }

        await using (watch.ConfigureAwait(false))
        {
            await foreach (var evt in watch.ReadEventsAsync(cancellationToken).ConfigureAwait(false))
            {
                var before = evt.PrevKv is { } prev ? Decode<T>(prev) : null;
                var wasIn = before is not null && Matches(labels, fields, evt.PrevKv!, before);
                if (evt.Type == StateEventType.Delete)
                {
                    if (wasIn)
                    {
                        yield return new ObjectEvent<T>(WatchEventType.Deleted, WithResourceVersion(before!, evt.Revision));
                    }

                    continue;
                }

                var now = Decode<T>(evt.Kv);
                var isIn = Matches(labels, fields, evt.Kv, now);
                if (isIn)
                {
                    yield return new ObjectEvent<T>(wasIn ? WatchEventType.Modified : WatchEventType.Added, now);
                }
                else if (wasIn)
                {
                    yield return new ObjectEvent<T>(WatchEventType.Deleted, now);
                }
            }
        }
    }

    private static bool Matches(LabelSelector labels, FieldSelector fields, StateKeyValue kv, IKubernetesObject<V1ObjectMeta> obj) =>
        labels.Matches(obj.Metadata.Labels) && (fields.IsEmpty || fields.Matches(JsonNode.Parse(kv.Value.Span)));

    /// <summary>The opaque continue token: the snapshot's revision and the last key returned.</summary>
    private static class ContinueToken
    {
        public static string Create(long revision, string lastKey) =>
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{revision.ToString(CultureInfo.InvariantCulture)}\n{lastKey}"));

        public static (long Revision, string? StartAfter) Parse(string? token, string prefix)
        {
            if (string.IsNullOrEmpty(token))
            {
                return (0, null);
            }

            try
            {
                var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
                var parts = text.Split('\n', 2);
                if (parts.Length == 2 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var revision) && revision > 0 && parts[1].StartsWith(prefix, StringComparison.Ordinal))
                {
                    return (revision, parts[1]);
                }
            }
            catch (FormatException)
            {
            }

            throw new BadRequestException("the continue token is not valid; list again without it");
        }
    }
}
