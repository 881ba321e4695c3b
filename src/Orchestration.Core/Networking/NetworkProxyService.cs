using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Informers;

namespace Orchestration.Networking;

/// <summary>
/// kube-proxy's loop on a worker: watches Services and EndpointSlices, computes the desired
/// <see cref="ServiceTable"/> (<see cref="ServiceTableBuilder"/>) and has the node's
/// <see cref="INetworkProxy"/> program it, coalescing changes that arrive within
/// <see cref="NetworkProxyOptions.MinSyncInterval"/>. A failed sync leaves the previous rules, sets
/// the node's <c>NetworkProxyReady</c> condition to False with the reason, records a Warning event on
/// the node and is tried again with a back-off; the next good sync sets the condition back to True.
/// A graceful stop removes what the proxy programmed.
/// </summary>
public sealed partial class NetworkProxyService(
    IServiceProvider services,
    IClusterClient client,
    IOptions<NetworkProxyOptions> options,
    EventRecorder events,
    TimeProvider timeProvider,
    ILoggerFactory loggers) : BackgroundService
{
    /// <summary>The node condition the proxy reports its state in.</summary>
    public const string ConditionType = "NetworkProxyReady";

    private readonly ILogger _logger = loggers.CreateLogger<NetworkProxyService>();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private INetworkProxy? _proxy;
    private bool? _reportedReady;

    /// <summary>The table of the last successful sync (tests and diagnostics read it).</summary>
    public ServiceTable? Programmed { get; private set; }

    /// <summary>How many syncs succeeded.</summary>
    public int SyncCount { get; private set; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here: a proxy in a runtime daemon's namespace knows it once that daemon has started.
        _proxy = services.GetRequiredService<INetworkProxy>();
        var settings = options.Value;
        var informers = new InformerFactory(client, timeProvider, loggers);
        var serviceInformer = informers.For<V1Service>();
        var sliceInformer = informers.For<V1EndpointSlice>();
        serviceInformer.Added += _ => Changed();
        serviceInformer.Updated += (_, _) => Changed();
        serviceInformer.Deleted += _ => Changed();
        sliceInformer.Added += _ => Changed();
        sliceInformer.Updated += (_, _) => Changed();
        sliceInformer.Deleted += _ => Changed();
        var running = informers.RunAsync(stoppingToken);
        try
        {
            await serviceInformer.WaitForSyncAsync(stoppingToken).ConfigureAwait(false);
            await sliceInformer.WaitForSyncAsync(stoppingToken).ConfigureAwait(false);
            var retry = settings.MinSyncInterval;
            while (!stoppingToken.IsCancellationRequested)
            {
                var table = ServiceTableBuilder.Build(serviceInformer.Cache.List(null), sliceInformer.Cache.List(null), settings.NodeName);
                try
                {
                    await _proxy.SyncAsync(table, stoppingToken).ConfigureAwait(false);
                    Programmed = table;
                    SyncCount++;
                    retry = settings.MinSyncInterval;
                    LogSynced(table.Ports.Count);
                    await ReportAsync(settings.NodeName, ready: true, "", stoppingToken).ConfigureAwait(false);
                }
                catch (NetworkProxyException ex)
                {
                    LogSyncFailed(ex, retry);
                    await ReportAsync(settings.NodeName, ready: false, ex.Message, stoppingToken).ConfigureAwait(false);
                    await Task.Delay(retry, timeProvider, stoppingToken).ConfigureAwait(false);
                    retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, settings.MaxRetryInterval.Ticks));
                    continue;
                }

                await Task.Delay(settings.MinSyncInterval, timeProvider, stoppingToken).ConfigureAwait(false);
                await _changed.WaitAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await running.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_proxy is not null)
        {
            try
            {
                await _proxy.CleanUpAsync(cancellationToken).ConfigureAwait(false);
                LogCleanedUp();
            }
            catch (NetworkProxyException ex)
            {
                LogCleanUpFailed(ex);
            }
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _changed.Dispose();
        base.Dispose();
    }

    private void Changed()
    {
        // One pending signal is enough: the next sync reads the caches as they are then.
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private async Task ReportAsync(string nodeName, bool ready, string message, CancellationToken cancellationToken)
    {
        if (_reportedReady == ready || string.IsNullOrEmpty(nodeName))
        {
            return;
        }

        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                var node = await client.GetAsync<V1Node>(null, nodeName, cancellationToken).ConfigureAwait(false);
                var now = timeProvider.GetUtcNow().UtcDateTime;
                node.Status ??= new V1NodeStatus();
                node.Status.Conditions = (node.Status.Conditions ?? []).Where(c => c.Type != ConditionType).Append(new V1NodeCondition
                {
                    Type = ConditionType,
                    Status = ready ? "True" : "False",
                    Reason = ready ? "ProxySynced" : "ProxySyncFailed",
                    Message = ready ? "the network proxy has programmed every Service" : message,
                    LastHeartbeatTime = now,
                    LastTransitionTime = now,
                }).ToList();
                await client.UpdateStatusAsync(node, cancellationToken).ConfigureAwait(false);
                if (!ready)
                {
                    await events.RecordAsync(node, "Warning", "ProxySyncFailed", message, "network-proxy", nodeName, cancellationToken).ConfigureAwait(false);
                }

                _reportedReady = ready;
                return;
            }
            catch (ConflictException)
            {
            }
            catch (NotFoundException)
            {
                // The node agent has not registered the node yet: the next sync reports.
                return;
            }
        }
    }

    [LoggerMessage(EventId = 3700, Level = LogLevel.Debug, Message = "Network proxy synced {Ports} service ports")]
    private partial void LogSynced(int ports);

    [LoggerMessage(EventId = 3701, Level = LogLevel.Warning, Message = "Network proxy sync failed; the previous rules stay, retrying in {Retry}")]
    private partial void LogSyncFailed(Exception ex, TimeSpan retry);

    [LoggerMessage(EventId = 3702, Level = LogLevel.Information, Message = "Network proxy removed its rules")]
    private partial void LogCleanedUp();

    [LoggerMessage(EventId = 3703, Level = LogLevel.Warning, Message = "Network proxy could not remove its rules")]
    private partial void LogCleanUpFailed(Exception ex);
}
