using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources;

public sealed partial class ObjectRegistry
{
    private const int ScanPage = 500;

    /// <summary>How often a quiet watch that allows bookmarks gets one.</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Lists objects as one snapshot, page by page with continue tokens.</summary>
    public async Task<ObjectList<JsonObject>> ListAsync(ResourceKind kind, string? @namespace, ListOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        options ??= new ListOptions();
        var labels = LabelSelector.Parse(options.LabelSelector);
        var fields = FieldSelector.Parse(options.FieldSelector);
        fields.RequireSupported(Strategies.For(kind));
        if (options.Limit < 0)
        {
            throw new BadRequestException($"limit must not be negative (got {options.Limit})");
        }

        var prefix = PrefixFor(kind, kind.Namespaced ? NullIfEmpty(@namespace) : null);
        var (revision, startAfter) = ContinueToken.Parse(options.Continue, prefix);
        if (revision == 0 && options.ResourceVersionMatch == "Exact")
        {
            revision = ParseResourceVersion(options.ResourceVersion) ?? throw new BadRequestException("resourceVersionMatch=Exact needs a resourceVersion");
        }

        var filtered = !labels.IsEmpty || !fields.IsEmpty;
        var items = new List<JsonObject>();
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
                    var obj = DecodeNode(kv);
                    if (filtered && !Matches(labels, fields, obj))
                    {
                        continue;
                    }

                    items.Add(obj);
                    if (options.Limit > 0 && items.Count == options.Limit)
                    {
                        var next = i < page.Items.Count - 1 || page.HasMore ? ContinueToken.Create(revision, kv.Key) : null;
                        return new ObjectList<JsonObject>(items, revision.ToString(CultureInfo.InvariantCulture), next);
                    }
                }

                if (!page.HasMore || page.Items.Count == 0)
                {
                    return new ObjectList<JsonObject>(items, revision.ToString(CultureInfo.InvariantCulture), null);
                }

                startAfter = page.Items[^1].Key;
            }
        }
        catch (CompactedException ex) when (options.Continue is not null)
        {
            throw new GoneException("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.", ex);
        }
        catch (CompactedException ex)
        {
            throw new GoneException($"too old resource version: {revision} ({ex.CompactRevision})", ex);
        }
        catch (FutureRevisionException ex)
        {
            throw new ClusterApiException(504, "Timeout", $"Too large resource version: {revision}, current: {ex.CurrentRevision}", innerException: ex);
        }
    }

    /// <summary>Watches objects of one kind: see <see cref="IClusterWatcher.WatchAsync{T}"/>. Each event's object is the caller's own.</summary>
    public async IAsyncEnumerable<ObjectEvent<JsonObject>> WatchAsync(ResourceKind kind, string? @namespace, WatchOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var evt in WatchCoreAsync(kind, @namespace, options, shared: false, cancellationToken).ConfigureAwait(false))
        {
            yield return new ObjectEvent<JsonObject>(evt.Type, evt.Object);
        }
    }

    /// <summary>
    /// Watches objects of one kind for fan-out: a change the store delivers to many watchers is
    /// decoded once and its object is shared among them (<see cref="SharedObjectEvent.Object"/>
    /// must not be modified), and <see cref="SharedObjectEvent.Source"/> identifies the change so
    /// that what a caller derives from it (its serialized form) can be shared too.
    /// </summary>
    public IAsyncEnumerable<SharedObjectEvent> WatchSharedAsync(ResourceKind kind, string? @namespace, WatchOptions? options, CancellationToken cancellationToken) =>
        WatchCoreAsync(kind, @namespace, options, shared: true, cancellationToken);

    private async IAsyncEnumerable<SharedObjectEvent> WatchCoreAsync(ResourceKind kind, string? @namespace, WatchOptions? options, bool shared, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        options ??= new WatchOptions();
        var labels = LabelSelector.Parse(options.LabelSelector);
        var fields = FieldSelector.Parse(options.FieldSelector);
        fields.RequireSupported(Strategies.For(kind));
        var prefix = PrefixFor(kind, kind.Namespaced ? NullIfEmpty(@namespace) : null);
        var fromNow = string.IsNullOrEmpty(options.ResourceVersion) || options.ResourceVersion == "0";
        long after;
        if (fromNow || options.SendInitialEvents)
        {
            // Kubernetes's "start at most recent": the current objects as Added, then changes.
            var current = await store.RangeAsync(new RangeRequest { Prefix = prefix }, cancellationToken).ConfigureAwait(false);
            after = current.Revision;
            foreach (var kv in current.Items)
            {
                var obj = DecodeNode(kv);
                if (Matches(labels, fields, obj))
                {
                    yield return new SharedObjectEvent(WatchEventType.Added, obj, null);
                }
            }

            if (options.SendInitialEvents)
            {
                yield return new SharedObjectEvent(WatchEventType.Bookmark, Bookmark(kind, after, initialEventsEnd: true), null);
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
            var progress = after;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var events = watch.ReadEventsAsync(stop.Token).GetAsyncEnumerator(stop.Token);
            await using (events.ConfigureAwait(false))
            {
                Task<bool>? pending = null;
                try
                {
                while (true)
                {
                    pending ??= events.MoveNextAsync().AsTask();
                    if (options.AllowBookmarks && !pending.IsCompleted)
                    {
                        var tick = Task.Delay(BookmarkInterval, timeProvider, cancellationToken);
                        if (await Task.WhenAny(pending, tick).ConfigureAwait(false) == tick)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                            yield return new SharedObjectEvent(WatchEventType.Bookmark, Bookmark(kind, progress, initialEventsEnd: false), null);
                            continue;
                        }
                    }

                    if (!await pending.ConfigureAwait(false))
                    {
                        yield break;
                    }

                    pending = null;
                    var evt = events.Current;
                    progress = evt.Revision;
                    if (Translate(evt, labels, fields, shared) is { } translated)
                    {
                        yield return translated;
                    }
                }
                }
                finally
                {
                    // An enumerator must not be disposed while a MoveNext is in flight.
                    if (pending is not null)
                    {
                        await stop.CancelAsync().ConfigureAwait(false);
                        await pending.ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
                    }
                }
            }
        }
    }

    /// <summary>A store event as the watcher sees it through its selectors: entering is Added, leaving is Deleted.</summary>
    private SharedObjectEvent? Translate(StateEvent evt, LabelSelector labels, FieldSelector fields, bool shared)
    {
        var decoded = shared ? _decodedEvents.GetValue(evt, _decodeEvent ??= DecodeEvent) : DecodeEvent(evt);
        var wasIn = decoded.Before is not null && Matches(labels, fields, decoded.Before);
        if (evt.Type == StateEventType.Delete)
        {
            return wasIn ? new SharedObjectEvent(WatchEventType.Deleted, decoded.Before!, evt) : null;
        }

        if (Matches(labels, fields, decoded.After!))
        {
            return new SharedObjectEvent(wasIn ? WatchEventType.Modified : WatchEventType.Added, decoded.After!, evt);
        }

        return wasIn ? new SharedObjectEvent(WatchEventType.Deleted, decoded.After!, evt) : null;
    }

    /// <summary>The objects before and after a store event; a deleted object carries the delete's revision.</summary>
    private DecodedEvent DecodeEvent(StateEvent evt)
    {
        var before = evt.PrevKv is { } prev ? DecodeNode(prev) : null;
        if (evt.Type == StateEventType.Delete)
        {
            return new DecodedEvent(before is null ? null : WithResourceVersion(before, evt.Revision), null);
        }

        return new DecodedEvent(before, DecodeNode(evt.Kv));
    }

    /// <summary>Events a store hands to many watchers are decoded once, for as long as any watcher holds them.</summary>
    private readonly ConditionalWeakTable<StateEvent, DecodedEvent> _decodedEvents = new();

    // The decoder as a delegate made once, not once per event (it reads this registry's encryption).
    private ConditionalWeakTable<StateEvent, DecodedEvent>.CreateValueCallback? _decodeEvent;

    private sealed record DecodedEvent(JsonObject? Before, JsonObject? After);

    private static JsonObject Bookmark(ResourceKind kind, long revision, bool initialEventsEnd)
    {
        var meta = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) };
        if (initialEventsEnd)
        {
            meta["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        }

        return new JsonObject { ["kind"] = kind.Kind, ["apiVersion"] = kind.ApiVersion, ["metadata"] = meta };
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static bool Matches(LabelSelector labels, FieldSelector fields, JsonObject obj) =>
        (labels.IsEmpty || labels.Matches(LabelsOf(obj))) && (fields.IsEmpty || fields.Matches(obj));

    private static Dictionary<string, string>? LabelsOf(JsonObject obj)
    {
        if (obj["metadata"]?["labels"] is not JsonObject labels)
        {
            return null;
        }

        var result = new Dictionary<string, string>(labels.Count, StringComparer.Ordinal);
        foreach (var (key, value) in labels)
        {
            result[key] = value?.ToString() ?? "";
        }

        return result;
    }

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
