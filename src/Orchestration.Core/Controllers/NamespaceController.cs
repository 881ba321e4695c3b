using System.Text.Json.Nodes;
using k8s;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Controllers;

/// <summary>
/// Empties a namespace that is being deleted: every object of every namespaced kind in it is
/// deleted, and when none is left the namespace's <c>kubernetes</c> finalizer is removed, which
/// lets the namespace go. Until then the namespace is Terminating and refuses new objects.
/// </summary>
/// <remarks>Like the <see cref="GarbageCollector"/>, it works through <see cref="IDynamicClusterClient"/> because it deletes every kind, in process or against an API server.</remarks>
public sealed partial class NamespaceController(IDynamicClusterClient client, IOptions<GarbageCollectorOptions> options, TimeProvider timeProvider, ILogger<NamespaceController> logger) : BackgroundService
{
    /// <summary>The finalizer that holds a namespace until it is empty.</summary>
    public const string Finalizer = "kubernetes";

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var namespaces = ResourceKind.For<k8s.Models.V1Namespace>(namespaced: false, hasStatus: true);
        var working = new Dictionary<string, Task>(StringComparer.Ordinal);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var evt in client.WatchAsync(namespaces, null, new WatchOptions(), stoppingToken).ConfigureAwait(false))
                {
                    var name = evt.Object["metadata"]?["name"]?.ToString();
                    if (evt.Type is WatchEventType.Added or WatchEventType.Modified && name is not null && evt.Object["metadata"]?["deletionTimestamp"] is not null
                        && (!working.TryGetValue(name, out var running) || running.IsCompleted))
                    {
                        working[name] = Task.Run(() => EmptyAsync(namespaces, name, stoppingToken), stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException or State.StoreUnavailableException or State.WatchFellBehindException or State.StoreClosedException)
            {
                LogWatchFailed(ex);
                await Task.Delay(options.Value.RetryDelay, timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }

        await Task.WhenAll(working.Values.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
    }

    private async Task EmptyAsync(ResourceKind namespaces, string ns, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var left = 0;
                foreach (var kind in (await client.KindsAsync(cancellationToken).ConfigureAwait(false)).Where(k => k.Namespaced && k.Serves("deletecollection")))
                {
                    var list = await client.ListAsync(kind, ns, null, cancellationToken).ConfigureAwait(false);
                    left += list.Items.Count;
                    foreach (var item in list.Items.Where(i => i["metadata"]?["deletionTimestamp"] is null))
                    {
                        try
                        {
                            await client.DeleteAsync(kind, ns, item["metadata"]!["name"]!.ToString(), new DeleteOptions { PropagationPolicy = "Background" }, cancellationToken).ConfigureAwait(false);
                        }
                        catch (NotFoundException)
                        {
                        }
                    }
                }

                if (left == 0)
                {
                    await client.MutateAsync(namespaces, null, ns, WithoutFinalizer, "finalize", cancellationToken).ConfigureAwait(false);
                    LogNamespaceDeleted(ns);
                    return;
                }

                // Objects held by finalizers go when their holders let them: look again shortly.
                await Task.Delay(options.Value.RetryDelay, timeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NotFoundException)
        {
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is ClusterApiException or HttpRequestException or State.StoreUnavailableException)
        {
            LogEmptyingFailed(ex, ns);
        }
    }

    private static JsonObject WithoutFinalizer(JsonObject obj)
    {
        if (obj["spec"]?["finalizers"] is JsonArray finalizers)
        {
            foreach (var item in finalizers.Where(f => f?.ToString() == Finalizer).ToList())
            {
                finalizers.Remove(item);
            }
        }

        return obj;
    }

    [LoggerMessage(EventId = 1410, Level = LogLevel.Warning, Message = "Watching namespaces failed; watching again")]
    private partial void LogWatchFailed(Exception ex);

    [LoggerMessage(EventId = 1411, Level = LogLevel.Information, Message = "Namespace {Namespace} is empty and deleted")]
    private partial void LogNamespaceDeleted(string @namespace);

    [LoggerMessage(EventId = 1412, Level = LogLevel.Warning, Message = "Emptying namespace {Namespace} failed; it is tried again on its next change")]
    private partial void LogEmptyingFailed(Exception ex, string @namespace);
}
