using System.Text.Json.Nodes;
using k8s;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Handlers;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Hosting;

/// <summary>
/// Keeps the kind table in step with the CustomResourceDefinitions: a CRD's kind is served as soon
/// as the CRD is written through this server (and within a watch round trip when another server
/// wrote it), its status says Established, and deleting the CRD stops serving the kind.
/// </summary>
public sealed partial class CustomResourceKinds(ObjectRegistry registry, ResourceHandler handler, TimeProvider timeProvider, ILogger<CustomResourceKinds> logger) : BackgroundService
{
    private static readonly ResourceKind CrdKind = ResourceKind.For<k8s.Models.V1CustomResourceDefinition>(namespaced: false, hasStatus: true);

    /// <inheritdoc />
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        handler.Written += OnWritten;
        return base.StartAsync(cancellationToken);
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        handler.Written -= OnWritten;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var kind = registry.Kinds.Find(CrdKind.Group, CrdKind.Plural) ?? CrdKind;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var evt in registry.WatchAsync(kind, null, new WatchOptions(), stoppingToken).ConfigureAwait(false))
                {
                    await SyncAsync(evt.Type, evt.Object, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or State.StoreUnavailableException or State.WatchFellBehindException)
            {
                LogWatchFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    private void OnWritten(ResourceKind kind, JsonObject obj, bool deleted)
    {
        if (kind.Group == CrdKind.Group && kind.Plural == CrdKind.Plural)
        {
            Apply(deleted ? WatchEventType.Deleted : WatchEventType.Modified, obj);
        }
    }

    private async Task SyncAsync(WatchEventType type, JsonObject crd, CancellationToken cancellationToken)
    {
        Apply(type, crd);
        if (type != WatchEventType.Deleted && crd["metadata"]?["deletionTimestamp"] is not null)
        {
            await CleanUpAsync(crd, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (type != WatchEventType.Deleted && crd["status"]?["conditions"] is not JsonArray { Count: > 0 })
        {
            var name = crd["metadata"]!["name"]!.ToString();
            try
            {
                await registry.MutateAsync(
                    registry.Kinds.Find(CrdKind.Group, CrdKind.Plural)!,
                    null,
                    name,
                    current =>
                    {
                        current["status"] = CustomResourceDefinitions.AcceptedStatus(current, timeProvider.GetUtcNow());
                        return current;
                    },
                    statusOnly: true,
                    null,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                // Deleted meanwhile.
            }
        }
    }

    /// <summary>Deletes the objects of a deleted CRD's kind, then lets the CRD go.</summary>
    private async Task CleanUpAsync(JsonObject crd, CancellationToken cancellationToken)
    {
        var kind = CustomResourceDefinitions.ToKind(crd);
        if (registry.Kinds.Find(kind.Group, kind.Plural) is { ClrType: null } served)
        {
            var objects = await registry.ListAsync(served, null, null, cancellationToken).ConfigureAwait(false);
            foreach (var item in objects.Items)
            {
                try
                {
                    await registry.DeleteAsync(served, item["metadata"]?["namespace"]?.ToString(), item["metadata"]!["name"]!.ToString(), null, null, cancellationToken).ConfigureAwait(false);
                }
                catch (NotFoundException)
                {
                }
            }

            if ((await registry.ListAsync(served, null, new ListOptions { Limit = 1 }, cancellationToken).ConfigureAwait(false)).Items.Count > 0)
            {
                // Objects held by their own finalizers: the CRD waits for them (its next change looks again).
                return;
            }
        }

        try
        {
            await registry.MutateAsync(
                registry.Kinds.Find(CrdKind.Group, CrdKind.Plural)!,
                null,
                crd["metadata"]!["name"]!.ToString(),
                current =>
                {
                    if (current["metadata"]?["finalizers"] is JsonArray finalizers)
                    {
                        foreach (var item in finalizers.Where(f => f?.ToString() == CustomResourceDefinitions.CleanupFinalizer).ToList())
                        {
                            finalizers.Remove(item);
                        }
                    }

                    return current;
                },
                statusOnly: false,
                null,
                cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
    }

    private void Apply(WatchEventType type, JsonObject crd)
    {
        var kind = CustomResourceDefinitions.ToKind(crd);
        if (kind.Plural.Length == 0 || kind.Group.Length == 0)
        {
            return;
        }

        if (type == WatchEventType.Deleted)
        {
            if (registry.Kinds.Unregister(kind.Group, kind.Plural))
            {
                LogStoppedServing(kind.Plural, kind.Group);
            }

            return;
        }

        var existing = registry.Kinds.Find(kind.Group, kind.Plural);
        if (existing is { ClrType: not null })
        {
            LogBuiltInNameNotServed(kind.Plural, kind.Group);
            return;
        }

        if (existing != kind)
        {
            registry.Kinds.RegisterOrReplace(kind);
            LogServing(kind.Plural, kind.Group, string.Join(", ", kind.ServedVersions));
        }
    }

    [LoggerMessage(EventId = 2020, Level = LogLevel.Warning, Message = "Watching CustomResourceDefinitions failed; watching again")]
    private partial void LogWatchFailed(Exception ex);

    [LoggerMessage(EventId = 2021, Level = LogLevel.Information, Message = "Stopped serving {Plural}.{Group}")]
    private partial void LogStoppedServing(string plural, string group);

    [LoggerMessage(EventId = 2022, Level = LogLevel.Warning, Message = "The CRD {Plural}.{Group} names a built-in resource; it is not served")]
    private partial void LogBuiltInNameNotServed(string plural, string group);

    [LoggerMessage(EventId = 2023, Level = LogLevel.Information, Message = "Serving {Plural}.{Group} ({Versions})")]
    private partial void LogServing(string plural, string group, string versions);
}
