using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Events;
using Orchestration.Informers;
using Orchestration.Runtime;
using Orchestration.WorkQueues;

namespace Orchestration.NodeAgent;

/// <summary>
/// The kubelet role: registers its Node (capacity, allocatable, runtime version), renews its Lease
/// in kube-node-lease, watches the pods bound to it and runs them through <see cref="INodeRuntime"/>
/// (see <see cref="PodWorker"/>), and reports their status. A relist loop (kubelet's PLEG) looks at
/// the runtime every <see cref="NodeAgentOptions.ResyncInterval"/> and syncs only the pods whose
/// containers changed state, so an exit is noticed without any API event; the same loop runs the
/// probes that are due. One timer per agent, nothing per pod: thousands of agents fit in one process.
/// </summary>
public sealed partial class NodeAgent
{
    private readonly IClusterClient _client;
    private readonly INodeRuntime _runtime;
    private readonly NodeAgentOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly INetworkProber? _networkProber;
    private readonly EventRecorder? _events;
    private string? _podCidr;

    // Pods synced since this run started, until every pod bound at start has been: then one log line
    // says so (the sign that an agent started again has adopted or restarted what it found).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ObjectKey, byte> _syncedSinceStart = new();
    private TaskCompletionSource _syncProgress = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _startSynced;

    /// <summary>Creates a node agent over a _runtime.</summary>
    /// <param name="client">The cluster.</param>
    /// <param name="runtime">The node's container _runtime.</param>
    /// <param name="options">Who the node is and how the agent behaves.</param>
    /// <param name="timeProvider">The clock (a fake one in tests).</param>
    /// <param name="logger">The log.</param>
    /// <param name="networkProber">
    /// Runs httpGet and tcpSocket probes; by default the runtime when it answers them itself (the
    /// simulated one does), else real connections to the pod's IP.
    /// </param>
    /// <param name="events">Where pod events go; by default an <see cref="EventRecorder"/> over <paramref name="client"/>.</param>
    public NodeAgent(IClusterClient client, INodeRuntime runtime, NodeAgentOptions options, TimeProvider? timeProvider = null, ILogger? logger = null, INetworkProber? networkProber = null, EventRecorder? events = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.ResyncInterval, TimeSpan.Zero);
        _client = client;
        _runtime = runtime;
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _networkProber = networkProber;
        _events = events;
    }

    /// <summary>
    /// Where the pods' projected ServiceAccount tokens are asked for; by default the cluster client
    /// when it can ask (a remote one), else no token volume can be set up.
    /// </summary>
    public IServiceAccountTokenClient? ServiceAccountTokens { get; init; }

    /// <summary>The node's name.</summary>
    public string NodeName => _options.NodeName;

    /// <summary>
    /// Runs the agent until cancelled, starting it again a second after it stops on an error it can
    /// recover from: the API server not answering yet (at a host's first start), or a runtime that
    /// went away. What every host of an agent needs, so it is here rather than in each host.
    /// </summary>
    public async Task RunUntilStoppedAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or InvalidOperationException or HttpRequestException or IOException)
            {
                LogAgentRestarting(ex, NodeName);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Registers the node and runs its pods until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        // The node registers with what its runtime says now: one that is down registers NotReady.
        var readiness = new NodeReadiness(_client, _runtime, _options, _time, _logger);
        await readiness.CheckRuntimeAsync(cancellationToken).ConfigureAwait(false);
        await RegisterAsync(readiness, cancellationToken).ConfigureAwait(false);
        var informer = new Informer<V1Pod>(_client, new InformerOptions { FieldSelector = $"spec.nodeName={_options.NodeName}" }, _time, _logger);
        using var queue = new WorkQueue<ObjectKey>(new WorkQueueOptions { BaseDelay = TimeSpan.FromMilliseconds(200) }, _time);
        var events = new PodEventQueue(_events ?? new EventRecorder(_client, _time), _options.NodeName, _options.RecordEvents ? _options.EventQueueCapacity : 0, _logger);
        using var ownProber = _networkProber is null && _runtime is not INetworkProber ? new SocketNetworkProber() : null;
        var prober = new ContainerProber(_runtime, _networkProber ?? _runtime as INetworkProber ?? ownProber!);
        var worker = new PodWorker(
            _client,
            ServiceAccountTokens ?? _client as IServiceAccountTokenClient,
            _runtime,
            _options,
            _time,
            new ContainerBackOff(_options.BackOffInitial, _options.BackOffMax, _time),
            events,
            EnsurePodCidrAsync,
            queue.AddAfter,
            _logger);
        informer.Added += p => queue.Add(KeyOf(p));
        informer.Updated += (_, p) => queue.Add(KeyOf(p));
        informer.Deleted += p => queue.Add(KeyOf(p));
        using var registration = cancellationToken.Register(queue.ShutDown);
        var tasks = new List<Task>
        {
            informer.RunAsync(cancellationToken),
            RenewLeaseAsync(cancellationToken),
            RelistAsync(informer, worker, prober, events, queue, readiness, cancellationToken),
            readiness.RunAsync(
                (again, ct) =>
                {
                    if (again)
                    {
                        _podCidr = null;
                    }

                    return EnsurePodCidrAsync(ct);
                },
                cancellationToken),
            events.RunAsync(cancellationToken),
            CleanUpOrphansAsync(informer, worker, queue, cancellationToken),
            ReportStartSyncedAsync(informer, cancellationToken),
        };

        tasks.AddRange(Enumerable.Range(0, _options.Workers).Select(_ => WorkAsync(informer, worker, queue, cancellationToken)));
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task WorkAsync(Informer<V1Pod> informer, PodWorker worker, WorkQueue<ObjectKey> queue, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (ok, key) = await queue.GetAsync(CancellationToken.None).ConfigureAwait(false);
            if (!ok)
            {
                return;
            }

            try
            {
                await worker.SyncAsync(key, informer.Cache.Get(key.Namespace, key.Name), cancellationToken).ConfigureAwait(false);
                queue.Forget(key);
                if (!_startSynced)
                {
                    _syncedSinceStart.TryAdd(key, 0);
                    Interlocked.Exchange(ref _syncProgress, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (PodSyncException ex)
            {
                // Expected (the runtime refused): one line per retry, the reason is in the pod's events.
                LogPodSyncFailed(_options.NodeName, key.ToString(), ex.Message);
                queue.AddRateLimited(key);
            }
            catch (Exception ex)
            {
                LogPodSyncError(ex, _options.NodeName, key);
                queue.AddRateLimited(key);
            }
            finally
            {
                queue.Done(key);
            }
        }
    }

    /// <summary>
    /// After a restart, the sandboxes of pods deleted while the agent was away get no API event:
    /// once the pod list is known, each sandbox's pod is synced, which removes those without a pod,
    /// and the volume directories of pods that are gone are removed.
    /// </summary>
    private async Task CleanUpOrphansAsync(Informer<V1Pod> informer, PodWorker worker, WorkQueue<ObjectKey> queue, CancellationToken cancellationToken)
    {
        try
        {
            await informer.WaitForSyncAsync(cancellationToken).ConfigureAwait(false);
            worker.RemoveOrphanedVolumes(() => informer.Cache.List().Select(p => p.Metadata.Uid));
            while (true)
            {
                try
                {
                    foreach (var sandbox in await _runtime.ListPodSandboxesAsync(cancellationToken).ConfigureAwait(false))
                    {
                        queue.Add(new ObjectKey(sandbox.Config.Namespace, sandbox.Config.Name));
                    }

                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A runtime that is down now is asked again until it answers (the node is NotReady meanwhile).
                    LogListSandboxesFailed(_options.NodeName, ex.Message);
                    await Task.Delay(_options.RuntimeStatusInterval, _time, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// kubelet's PLEG and prober in one loop: each tick lists the runtime's containers once, queues
    /// the pods whose containers changed state, and runs the probes that are due.
    /// </summary>
    private async Task RelistAsync(Informer<V1Pod> informer, PodWorker worker, ContainerProber prober, PodEventQueue events, WorkQueue<ObjectKey> queue, NodeReadiness readiness, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.ResyncInterval, _time);
        var failing = false;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await RelistOnceAsync(informer, worker, prober, events, queue, cancellationToken).ConfigureAwait(false);
                    readiness.Relisted();
                    failing = false;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Once per outage, not every second: the node's Ready condition carries it meanwhile.
                    if (!failing)
                    {
                        LogRelistFailed(ex, _options.NodeName, _options.ResyncInterval);
                    }

                    // A runtime that did not answer may come back started afresh, without the pod
                    // CIDR it was given: the next sandbox gives it again first.
                    _podCidr = null;
                    failing = true;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task RelistOnceAsync(Informer<V1Pod> informer, PodWorker worker, ContainerProber prober, PodEventQueue events, WorkQueue<ObjectKey> queue, CancellationToken cancellationToken)
    {
        if (worker.Idle)
        {
            return;
        }

        var records = worker.Records.ToList();

        var bySandbox = (await _runtime.ListContainersAsync(null, cancellationToken).ConfigureAwait(false)).ToLookup(c => c.SandboxId, StringComparer.Ordinal);
        var now = _time.GetUtcNow();
        var probes = new List<Task>();
        foreach (var record in records)
        {
            if (record.SandboxId is not { } sandboxId)
            {
                continue;
            }

            var containers = bySandbox[sandboxId].ToList();
            var fingerprint = PodRecord.FingerprintOf(containers);
            if (fingerprint != record.Fingerprint)
            {
                record.Fingerprint = fingerprint;
                queue.Add(record.Key);
            }

            foreach (var tracker in record.Probes)
            {
                if (tracker.DueAt <= now
                    && containers.Any(c => c.Id == tracker.ContainerId && c.State == ContainerState.Running)
                    && (tracker.Kind == ProbeKind.Startup || record.StartupGateOpen(tracker.ContainerId)))
                {
                    probes.Add(ProbeAsync(record, tracker, prober, events, queue, now, cancellationToken));
                }
            }
        }

        await Task.WhenAll(probes).ConfigureAwait(false);
    }

    private async Task ProbeAsync(PodRecord record, ProbeTracker tracker, ContainerProber prober, PodEventQueue events, WorkQueue<ObjectKey> queue, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pod = record.Pod;
        if (pod is null || record.PodIp is null)
        {
            return;
        }

        var spec = pod.Spec.Containers?.FirstOrDefault(c => c.Name == tracker.ContainerName)
            ?? pod.Spec.InitContainers?.FirstOrDefault(c => c.Name == tracker.ContainerName);
        var result = await prober.RunAsync(tracker.Spec, spec, tracker.ContainerId, record.PodIp, tracker.Timeout, cancellationToken).ConfigureAwait(false);
        bool changed;
        lock (record.Sync)
        {
            changed = tracker.Record(result.Success, now);
        }

        if (!result.Success)
        {
            events.Post(pod, "Warning", "Unhealthy", $"{tracker.Kind} probe failed: {result.Output}");
        }

        if (!changed)
        {
            return;
        }

        if (tracker.Passed == false && tracker.Kind is ProbeKind.Liveness or ProbeKind.Startup)
        {
            var which = tracker.Kind == ProbeKind.Liveness ? "liveness" : "startup";
            var grace = tracker.Spec.TerminationGracePeriodSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
            record.RequestKill(tracker.ContainerId, $"Container {tracker.ContainerName} failed {which} probe, will be restarted", grace);
        }

        queue.Add(record.Key);
    }

    private async Task EnsurePodCidrAsync(CancellationToken cancellationToken)
    {
        if (_podCidr is not null)
        {
            return;
        }

        var node = await _client.GetAsync<V1Node>(null, _options.NodeName, cancellationToken).ConfigureAwait(false);
        var cidr = node.Spec?.PodCIDR;
        if (string.IsNullOrEmpty(cidr))
        {
            // Node IPAM has not given this node its block yet: the pod is retried shortly.
            throw new InvalidOperationException($"node {_options.NodeName} has no pod CIDR yet");
        }

        await _runtime.UpdateRuntimeConfigAsync(cidr, cancellationToken).ConfigureAwait(false);
        _podCidr = cidr;
    }

    private async Task RegisterAsync(NodeReadiness readiness, CancellationToken cancellationToken)
    {
        var labels = new Dictionary<string, string>(_options.Labels)
        {
            ["kubernetes.io/hostname"] = _options.NodeName,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = "amd64",
        };
        V1Node node;
        try
        {
            node = await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = _options.NodeName, Labels = labels } }, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
            node = await _client.GetAsync<V1Node>(null, _options.NodeName, cancellationToken).ConfigureAwait(false);
        }

        V1NodeCondition ready;
        for (var attempt = 1; ; attempt++)
        {
            var resources = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(_options.Cpu), ["memory"] = new(_options.Memory), ["pods"] = new(_options.MaxPods.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
            var now = _time.GetUtcNow().UtcDateTime;
            ready = readiness.Condition(now, node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready"));
            node.Status = new V1NodeStatus
            {
                Capacity = resources,
                Allocatable = resources,
                Addresses = _options.InternalIP is { } ip ? [new V1NodeAddress { Address = ip, Type = "InternalIP" }, new V1NodeAddress { Address = _options.NodeName, Type = "Hostname" }] : null,
                DaemonEndpoints = _options.ServerPort is { } port ? new V1NodeDaemonEndpoints { KubeletEndpoint = new V1DaemonEndpoint { Port = port } } : null,
                // Conditions other parts of the node report (the network proxy's) are kept.
                Conditions = [.. (node.Status?.Conditions ?? []).Where(c => c.Type != "Ready"), ready],
                NodeInfo = new V1NodeSystemInfo
                {
                    KubeletVersion = "v1.33.0-orchestration",
                    ContainerRuntimeVersion = _runtime.Version,
                    OperatingSystem = "linux",
                    Architecture = "amd64",
                    OsImage = _options.OsImage ?? MachineOsImage.Value,
                    KernelVersion = Environment.OSVersion.Version.ToString(),
                    MachineID = _options.NodeName,
                    SystemUUID = _options.NodeName,
                    BootID = Guid.NewGuid().ToString(),
                    KubeProxyVersion = "",
                },
            };
            try
            {
                await _client.UpdateStatusAsync(node, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (ConflictException) when (attempt < 5)
            {
                // Node IPAM (the pod CIDR) or the lifecycle controller wrote the node since it was
                // read: the status goes onto the newest copy.
                node = await _client.GetAsync<V1Node>(null, _options.NodeName, cancellationToken).ConfigureAwait(false);
            }
        }

        readiness.Registered(ready);
        LogNodeRegistered(_options.NodeName);
    }

    private async Task RenewLeaseAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var now = _time.GetUtcNow().UtcDateTime;
                try
                {
                    var lease = await _client.GetAsync<V1Lease>("kube-node-lease", _options.NodeName, cancellationToken).ConfigureAwait(false);
                    lease.Spec.RenewTime = now;
                    await _client.UpdateAsync(lease, cancellationToken).ConfigureAwait(false);
                }
                catch (NotFoundException)
                {
                    await _client.CreateAsync(new V1Lease
                    {
                        Metadata = new V1ObjectMeta { Name = _options.NodeName, NamespaceProperty = "kube-node-lease" },
                        Spec = new V1LeaseSpec { HolderIdentity = _options.NodeName, LeaseDurationSeconds = (int)_options.LeaseDuration.TotalSeconds, RenewTime = now },
                    }, cancellationToken).ConfigureAwait(false);
                }

                await Task.Delay(_options.RenewInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException)
            {
                LogLeaseRenewFailed(ex, _options.NodeName);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The machine's PRETTY_NAME from /etc/os-release, read once.</summary>
    private static readonly Lazy<string> MachineOsImage = new(() =>
    {
        try
        {
            var line = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
            return line is null ? Environment.OSVersion.VersionString : line["PRETTY_NAME=".Length..].Trim('"');
        }
        catch (IOException)
        {
            return Environment.OSVersion.VersionString;
        }
    });

    private static ObjectKey KeyOf(V1Pod pod) => new(pod.Metadata.NamespaceProperty, pod.Metadata.Name);

    /// <summary>Logs once that every pod bound to the node when this run started has been synced (or has gone).</summary>
    private async Task ReportStartSyncedAsync(Informer<V1Pod> informer, CancellationToken cancellationToken)
    {
        try
        {
            await informer.WaitForSyncAsync(cancellationToken).ConfigureAwait(false);
            var atStart = informer.Cache.List().Select(KeyOf).ToList();
            while (true)
            {
                var progress = Volatile.Read(ref _syncProgress);
                if (atStart.All(k => _syncedSinceStart.ContainsKey(k) || informer.Cache.Get(k.Namespace, k.Name) is null))
                {
                    break;
                }

                await progress.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            _startSynced = true;
            _syncedSinceStart.Clear();
            LogStartSynced(NodeName, atStart.Count);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Node {Node}: pod {Pod} failed to sync: {Message}; trying again with back-off")]
    private partial void LogPodSyncFailed(string node, string pod, string message);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "Node agent {Node} stopped; starting it again")]
    private partial void LogAgentRestarting(Exception ex, string node);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "Node {Node}: pod {Pod} failed to sync")]
    private partial void LogPodSyncError(Exception ex, string node, ObjectKey pod);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Warning, Message = "Node {Node}: listing the runtime's sandboxes failed ({Message}); trying again")]
    private partial void LogListSandboxesFailed(string node, string message);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Warning, Message = "Node {Node}: relisting the runtime failed; retrying every {Interval}")]
    private partial void LogRelistFailed(Exception ex, string node, TimeSpan interval);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Information, Message = "Node {Node} registered")]
    private partial void LogNodeRegistered(string node);

    [LoggerMessage(EventId = 3016, Level = LogLevel.Information, Message = "Node {Node}: synced the {Count} pods bound to it at start")]
    private partial void LogStartSynced(string node, int count);

    [LoggerMessage(EventId = 3015, Level = LogLevel.Warning, Message = "Node {Node}: renewing its lease failed")]
    private partial void LogLeaseRenewFailed(Exception ex, string node);
}
