using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Controllers;

/// <summary>
/// Kubernetes's garbage collector: deletes objects whose owners (ownerReferences) are all gone
/// (background propagation), deletes an owner's dependents before the owner when it is deleted
/// in the foreground, and releases them when it is deleted with orphan propagation. It keeps a
/// graph of owners and dependents from a watch of every served kind, and checks an owner's absence
/// with a live read before it deletes anything.
/// </summary>
/// <remarks>
/// It works through <see cref="IDynamicClusterClient"/> because it handles every kind, custom ones
/// included: in process over the registry, or in a process of its own against an API server.
/// </remarks>
public sealed partial class GarbageCollector(IDynamicClusterClient client, IOptions<GarbageCollectorOptions> options, TimeProvider timeProvider, ILogger<GarbageCollector> logger) : BackgroundService
{
    private volatile IReadOnlyList<ResourceKind> _kinds = [];

    private readonly GarbageCollectorOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, Node> _nodes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> _dependents = new(StringComparer.Ordinal);
    private readonly Channel<string> _attention = Channel.CreateUnbounded<string>();
    private readonly ConcurrentDictionary<(string Group, string Plural), Task> _watches = new();

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var worker = Task.Run(() => WorkAsync(stoppingToken), stoppingToken);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    _kinds = [.. (await client.KindsAsync(stoppingToken).ConfigureAwait(false)).Where(k => k.Serves("list"))];
                }
                catch (Exception ex) when (ex is ClusterApiException or HttpRequestException)
                {
                    LogListingKindsFailed(ex);
                }

                foreach (var kind in _kinds)
                {
                    _ = _watches.GetOrAdd((kind.Group, kind.Plural), _ => Task.Run(() => WatchKindAsync(kind.Group, kind.Plural, stoppingToken), stoppingToken));
                }

                await Task.Delay(_options.KindScanInterval, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        _attention.Writer.TryComplete();
        await Task.WhenAll(_watches.Values.Append(worker).Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
    }

    private ResourceKind? Served(string group, string plural) => _kinds.FirstOrDefault(k => k.Group == group && k.Plural == plural);

    /// <summary>
    /// Lists a kind, then watches it from the list's version; a watch that ends resumes from the
    /// last version seen, and a 410 lists again, dropping what the new list no longer has.
    /// </summary>
    private async Task WatchKindAsync(string group, string plural, CancellationToken stoppingToken)
    {
        string? version = null;
        while (!stoppingToken.IsCancellationRequested && Served(group, plural) is { } kind)
        {
            try
            {
                if (version is null)
                {
                    var list = await client.ListAsync(kind, null, null, stoppingToken).ConfigureAwait(false);
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    foreach (var item in list.Items)
                    {
                        seen.Add(item["metadata"]?["uid"]?.ToString() ?? "");
                        Observe(kind, WatchEventType.Added, item);
                    }

                    foreach (var gone in _nodes.Values.Where(n => n.Kind.Group == group && n.Kind.Plural == plural && !seen.Contains(n.Uid)).ToList())
                    {
                        Observe(kind, WatchEventType.Deleted, new JsonObject { ["metadata"] = new JsonObject { ["uid"] = gone.Uid } });
                    }

                    version = list.ResourceVersion;
                }

                await foreach (var evt in client.WatchAsync(kind, null, new WatchOptions { ResourceVersion = version, AllowBookmarks = true }, stoppingToken).ConfigureAwait(false))
                {
                    version = evt.Object["metadata"]?["resourceVersion"]?.ToString() ?? version;
                    if (evt.Type != WatchEventType.Bookmark)
                    {
                        Observe(kind, evt.Type, evt.Object);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (GoneException)
            {
                version = null;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException or State.StoreUnavailableException or State.WatchFellBehindException or State.StoreClosedException)
            {
                LogWatchFailed(ex, plural, group);
                if (ex is State.WatchFellBehindException)
                {
                    version = null;
                }

                await Task.Delay(_options.RetryDelay, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }

        _watches.TryRemove((group, plural), out _);
    }

    private void Observe(ResourceKind kind, WatchEventType type, JsonObject obj)
    {
        var meta = obj["metadata"] as JsonObject;
        if (meta?["uid"]?.ToString() is not { Length: > 0 } uid)
        {
            return;
        }

        if (_nodes.TryGetValue(uid, out var previous))
        {
            foreach (var owner in previous.Owners)
            {
                if (_dependents.TryGetValue(owner.Uid, out var set))
                {
                    set.TryRemove(uid, out _);
                }
            }
        }

        if (type == WatchEventType.Deleted)
        {
            _nodes.TryRemove(uid, out _);
            foreach (var dependent in _dependents.TryGetValue(uid, out var set) ? set.Keys : [])
            {
                _attention.Writer.TryWrite(dependent);
            }

            foreach (var owner in previous?.Owners ?? [])
            {
                // A foreground owner waits for its last dependent to go.
                _attention.Writer.TryWrite(owner.Uid);
            }

            return;
        }

        var owners = (meta["ownerReferences"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(o => new OwnerRef(o["apiVersion"]?.ToString() ?? "", o["kind"]?.ToString() ?? "", o["name"]?.ToString() ?? "", o["uid"]?.ToString() ?? ""))
            .Where(o => o.Uid.Length > 0)
            .ToList();
        var node = new Node(kind, meta["namespace"]?.ToString(), meta["name"]?.ToString() ?? "", uid, owners,
            meta["deletionTimestamp"] is not null,
            (meta["finalizers"] as JsonArray ?? []).Select(f => f?.ToString() ?? "").ToList());
        _nodes[uid] = node;
        foreach (var owner in owners)
        {
            _dependents.GetOrAdd(owner.Uid, _ => new(StringComparer.Ordinal))[uid] = 0;
            if (!_nodes.ContainsKey(owner.Uid))
            {
                _attention.Writer.TryWrite(uid);
            }
        }

        if (node.Deleting)
        {
            _attention.Writer.TryWrite(uid);
        }
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        await foreach (var uid in _attention.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await ProcessAsync(uid, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException or State.StoreUnavailableException)
            {
                LogCollectionFailed(ex, uid);
                _ = RetryLaterAsync(uid, stoppingToken);
            }
        }
    }

    private async Task RetryLaterAsync(string uid, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(_options.RetryDelay, timeProvider, stoppingToken).ConfigureAwait(false);
            _attention.Writer.TryWrite(uid);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ProcessAsync(string uid, CancellationToken cancellationToken)
    {
        if (!_nodes.TryGetValue(uid, out var node))
        {
            return;
        }

        if (node.Deleting && node.Finalizers.Contains(ObjectRegistry.OrphanDependents))
        {
            foreach (var dependent in DependentsOf(uid))
            {
                await MutateAsync(dependent, obj => WithoutOwner(obj, uid), cancellationToken).ConfigureAwait(false);
            }

            await MutateAsync(node, obj => WithoutFinalizer(obj, ObjectRegistry.OrphanDependents), cancellationToken).ConfigureAwait(false);
            return;
        }

        if (node.Deleting && node.Finalizers.Contains(ObjectRegistry.ForegroundDeletion))
        {
            var dependents = DependentsOf(uid);
            foreach (var dependent in dependents.Where(d => !d.Deleting))
            {
                await DeleteAsync(dependent, "Foreground", cancellationToken).ConfigureAwait(false);
            }

            if (dependents.Count == 0)
            {
                await MutateAsync(node, obj => WithoutFinalizer(obj, ObjectRegistry.ForegroundDeletion), cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (node.Owners.Count == 0 || node.Deleting)
        {
            return;
        }

        var absent = new List<string>();
        foreach (var owner in node.Owners)
        {
            if (!await OwnerExistsAsync(node, owner, cancellationToken).ConfigureAwait(false))
            {
                absent.Add(owner.Uid);
            }
        }

        if (absent.Count == node.Owners.Count)
        {
            LogDeletingOrphan(node.Kind.Kind, node.Namespace, node.Name);
            await DeleteAsync(node, "Background", cancellationToken).ConfigureAwait(false);
        }
        else if (absent.Count > 0)
        {
            await MutateAsync(node, obj => absent.Aggregate(obj, WithoutOwner), cancellationToken).ConfigureAwait(false);
        }
    }

    private List<Node> DependentsOf(string uid) =>
        _dependents.TryGetValue(uid, out var set)
            ? set.Keys.Select(d => _nodes.GetValueOrDefault(d)).OfType<Node>().ToList()
            : [];

    /// <summary>Whether an owner exists: the graph may lag, so absence is confirmed by a live read of the owner's kind.</summary>
    private async Task<bool> OwnerExistsAsync(Node dependent, OwnerRef owner, CancellationToken cancellationToken)
    {
        if (_nodes.ContainsKey(owner.Uid))
        {
            return true;
        }

        var group = owner.ApiVersion.Contains('/', StringComparison.Ordinal) ? owner.ApiVersion[..owner.ApiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
        var kind = _kinds.FirstOrDefault(k => k.Group == group && k.Kind == owner.Kind);
        if (kind is null)
        {
            // An owner of a kind that is not served cannot be checked: keep the dependent.
            return true;
        }

        try
        {
            var live = await client.GetAsync(kind, kind.Namespaced ? dependent.Namespace : null, owner.Name, cancellationToken).ConfigureAwait(false);
            return live["metadata"]?["uid"]?.ToString() == owner.Uid;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    private async Task DeleteAsync(Node node, string propagation, CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteAsync(node.Kind, node.Namespace, node.Name, new DeleteOptions { PreconditionUid = node.Uid, PropagationPolicy = propagation }, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
        catch (ConflictException)
        {
            // Replaced by a newer object of the same name: not ours to delete.
        }
    }

    private async Task MutateAsync(Node node, Func<JsonObject, JsonObject> change, CancellationToken cancellationToken)
    {
        try
        {
            await client.MutateAsync(node.Kind, node.Namespace, node.Name, obj => obj["metadata"]?["uid"]?.ToString() == node.Uid ? change(obj) : null, null, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
    }

    private static JsonObject WithoutOwner(JsonObject obj, string ownerUid)
    {
        if (obj["metadata"]?["ownerReferences"] is JsonArray owners)
        {
            foreach (var owner in owners.OfType<JsonObject>().Where(o => o["uid"]?.ToString() == ownerUid).ToList())
            {
                owners.Remove(owner);
            }
        }

        return obj;
    }

    private static JsonObject WithoutFinalizer(JsonObject obj, string finalizer)
    {
        if (obj["metadata"]?["finalizers"] is JsonArray finalizers)
        {
            foreach (var item in finalizers.Where(f => f?.ToString() == finalizer).ToList())
            {
                finalizers.Remove(item);
            }
        }

        return obj;
    }

    private sealed record OwnerRef(string ApiVersion, string Kind, string Name, string Uid);

    private sealed record Node(ResourceKind Kind, string? Namespace, string Name, string Uid, IReadOnlyList<OwnerRef> Owners, bool Deleting, IReadOnlyList<string> Finalizers);

    [LoggerMessage(EventId = 1400, Level = LogLevel.Warning, Message = "Listing the served kinds for garbage collection failed; trying again")]
    private partial void LogListingKindsFailed(Exception ex);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Watching {Plural}.{Group} for garbage collection failed; watching again")]
    private partial void LogWatchFailed(Exception ex, string plural, string group);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Garbage collection of {Uid} failed; trying again")]
    private partial void LogCollectionFailed(Exception ex, string uid);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Deleting {Kind} {Namespace}/{Name}: its owners are gone")]
    private partial void LogDeletingOrphan(string kind, string? @namespace, string name);
}
