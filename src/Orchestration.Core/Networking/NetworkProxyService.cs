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
/// kube-proxy's loop on a worker: watches Services and EndpointSlices (through the worker's shared
/// <see cref="WorkerInformers"/>), keeps the desired <see cref="ServiceTable"/> (<see cref="ServiceTableBuilder"/>)
/// and has the node's <see cref="INetworkProxy"/> program it, coalescing changes that arrive within
/// <see cref="NetworkProxyOptions.MinSyncInterval"/>. Only the Services that changed since the last
/// sync are computed again; the others keep their <see cref="ServicePort"/> instances, so a proxy
/// that compares by reference skips them at once. A failed sync leaves the previous rules, sets the
/// node's <c>NetworkProxyReady</c> condition to False with the reason, records a Warning event on the
/// node and is tried again with a back-off; the next good sync sets the condition back to True.
/// A graceful stop removes what the proxy programmed.
/// </summary>
public sealed partial class NetworkProxyService(
    IServiceProvider services,
    WorkerInformers informers,
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

    // Written by the informers' handlers, read by the sync loop: the Services changed since the last
    // sync, and each Service's slices by name (kept here so that one Service's slices are found
    // without scanning every slice of the cluster).
    private readonly Lock _sync = new();
    private readonly HashSet<ServiceKey> _dirty = [];
    private readonly Dictionary<ServiceKey, Dictionary<string, V1EndpointSlice>> _slices = [];

    // Owned by the sync loop: each Service's entries as last computed.
    private readonly Dictionary<ServiceKey, List<ServicePort>> _ports = [];
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
        var serviceInformer = informers.Factory.For<V1Service>();
        var sliceInformer = informers.Factory.For<V1EndpointSlice>();
        serviceInformer.AddEventHandlers(ServiceChanged, (_, now) => ServiceChanged(now), ServiceChanged);
        sliceInformer.AddEventHandlers(s => SliceChanged(null, s), SliceChanged, s => SliceChanged(s, null));
        try
        {
            await serviceInformer.WaitForSyncAsync(stoppingToken).ConfigureAwait(false);
            await sliceInformer.WaitForSyncAsync(stoppingToken).ConfigureAwait(false);
            var retry = settings.MinSyncInterval;
            while (!stoppingToken.IsCancellationRequested)
            {
                var table = Recompute(serviceInformer.Cache, settings.NodeName);
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

    // The desired table: the changed Services computed again, the others as they were.
    private ServiceTable Recompute(ObjectCache<V1Service> services, string? nodeName)
    {
        List<(ServiceKey Key, List<V1EndpointSlice> Slices)> changed;
        lock (_sync)
        {
            changed = _dirty.Select(k => (k, _slices.TryGetValue(k, out var byName) ? byName.Values.ToList() : [])).ToList();
            _dirty.Clear();
        }

        foreach (var (key, slices) in changed)
        {
            var ports = services.Get(key.Namespace, key.Name) is { } service ? ServiceTableBuilder.PortsOf(service, slices, nodeName).ToList() : [];
            if (ports.Count == 0)
            {
                _ports.Remove(key);
            }
            else
            {
                _ports[key] = ports;
            }
        }

        return new ServiceTable(_ports.Values.SelectMany(p => p));
    }

    private void ServiceChanged(V1Service service) => MarkDirty(KeyOf(service.Metadata, service.Metadata.Name));

    private void SliceChanged(V1EndpointSlice? old, V1EndpointSlice? now)
    {
        lock (_sync)
        {
            if (old is not null && ServiceOf(old) is { } was && _slices.TryGetValue(was, out var wasSlices))
            {
                wasSlices.Remove(old.Metadata.Name);
                if (wasSlices.Count == 0)
                {
                    _slices.Remove(was);
                }

                _dirty.Add(was);
            }

            if (now is not null && ServiceOf(now) is { } service)
            {
                if (!_slices.TryGetValue(service, out var slices))
                {
                    _slices[service] = slices = new Dictionary<string, V1EndpointSlice>(StringComparer.Ordinal);
                }

                slices[now.Metadata.Name] = now;
                _dirty.Add(service);
            }
        }

        Signal();
    }

    private void MarkDirty(ServiceKey key)
    {
        lock (_sync)
        {
            _dirty.Add(key);
        }

        Signal();
    }

    private void Signal()
    {
        // One pending signal is enough: the next sync takes every Service marked until then.
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

    // A slice belongs to the Service its kubernetes.io/service-name label names, as kube-proxy reads it.
    private static ServiceKey? ServiceOf(V1EndpointSlice slice) =>
        slice.Metadata?.Labels?.TryGetValue(Controllers.Network.EndpointsController.ServiceNameLabel, out var name) == true && !string.IsNullOrEmpty(name)
            ? KeyOf(slice.Metadata, name)
            : null;

    private static ServiceKey KeyOf(V1ObjectMeta metadata, string name) => new(metadata.NamespaceProperty ?? "", name);

    private async Task ReportAsync(string nodeName, bool ready, string message, CancellationToken cancellationToken)
    {
        // A failure is checked against the node each time (another writer may have dropped the
        // condition); a success is reported once after each change.
        if (string.IsNullOrEmpty(nodeName) || (ready && _reportedReady == true))
        {
            return;
        }

        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                var node = await client.GetAsync<V1Node>(null, nodeName, cancellationToken).ConfigureAwait(false);
                if (!ready && node.Status?.Conditions?.FirstOrDefault(c => c.Type == ConditionType) is { Status: "False" } shown && shown.Message == message)
                {
                    _reportedReady = false;
                    return;
                }

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

    private readonly record struct ServiceKey(string Namespace, string Name);

    [LoggerMessage(EventId = 3700, Level = LogLevel.Debug, Message = "Network proxy synced {Ports} service ports")]
    private partial void LogSynced(int ports);

    [LoggerMessage(EventId = 3701, Level = LogLevel.Warning, Message = "Network proxy sync failed; the previous rules stay, retrying in {Retry}")]
    private partial void LogSyncFailed(Exception ex, TimeSpan retry);

    [LoggerMessage(EventId = 3702, Level = LogLevel.Information, Message = "Network proxy removed its rules")]
    private partial void LogCleanedUp();

    [LoggerMessage(EventId = 3703, Level = LogLevel.Warning, Message = "Network proxy could not remove its rules")]
    private partial void LogCleanUpFailed(Exception ex);
}
