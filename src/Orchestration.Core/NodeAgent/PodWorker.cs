using System.Collections.Concurrent;
using System.Globalization;
using k8s.Models;
using Orchestration.Controllers;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Runtime;
using Orchestration.Scheduling;

namespace Orchestration.NodeAgent;

/// <summary>
/// Brings one pod's containers in line with its spec through <see cref="INodeRuntime"/>, whatever the
/// runtime: a sandbox, init containers one after another to completion, then the app containers;
/// exited containers restart per the pod's restartPolicy with kubelet's crash-loop back-off;
/// containers that failed their liveness or startup probe are killed; a pod being deleted has its
/// containers stopped within its grace period and is then deleted for good. Restart counts live in
/// the runtime (each container's attempt), so a new agent over the same runtime adopts what runs.
/// Each container's config is built from the spec as kubelet builds it: env (<see cref="ContainerEnvironment"/>),
/// volumes (<see cref="PodVolumes"/>, set up before the sandbox), mounts, working directory, cgroup
/// limits and host ports.
/// </summary>
internal sealed partial class PodWorker(
    IClusterClient client,
    IServiceAccountTokenClient? tokens,
    INodeRuntime runtime,
    NodeAgentOptions options,
    TimeProvider time,
    ContainerBackOff backOff,
    PodEventQueue events,
    Func<CancellationToken, Task> ensurePodCidr,
    Action<ObjectKey, TimeSpan> requeueAfter,
    ILogger logger)
{
    private const string Normal = "Normal";
    private const string Warning = "Warning";

    /// <summary>
    /// The label with a container's pod's grace period in seconds (kubelet keeps the same key as a
    /// container annotation; the runtime contract has labels), so that a container whose pod was
    /// deleted while the agent was away still gets its own grace, not 30 s.
    /// </summary>
    private const string GraceLabel = "io.kubernetes.pod.terminationGracePeriod";

    private readonly ConcurrentDictionary<ObjectKey, PodRecord> _records = new();
    private readonly string _runtimeName = runtime.Version.Split(':')[0];
    private readonly PodVolumes _volumes = new(client, tokens, options.PodsDirectory, Allocatable(options), time, logger);
    private readonly ContainerEnvironment _environment = new(client, HostIp(options), Allocatable(options));
    private readonly Lazy<IReadOnlyList<string>> _nodeSearches = new(() => PodDns.NodeSearches(options.ResolvConf));

    /// <summary>Whether the agent runs no pod: the relist then has nothing to look at.</summary>
    public bool Idle => _records.IsEmpty;

    /// <summary>The pods this agent runs (enumerating does not lock or copy the map, which the relist does every second).</summary>
    public IEnumerable<PodRecord> Records => _records.Select(r => r.Value);

    /// <summary>Syncs one pod; <paramref name="pod"/> is null when it is gone from the API.</summary>
    public async Task SyncAsync(ObjectKey key, V1Pod? pod, CancellationToken cancellationToken)
    {
        var ns = key.Namespace ?? "default";
        var sandboxes = (await runtime.ListPodSandboxesAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Config.Namespace == ns && s.Config.Name == key.Name)
            .ToList();
        _records.TryGetValue(key, out var record);
        foreach (var stale in sandboxes.Where(s => pod is null || s.Config.Uid != pod.Metadata.Uid))
        {
            // The pod is gone (deleted at once) or replaced by another of the same name.
            // Without the pod (deleted while the agent was away), each container's own label says its grace, as kubelet's annotation does.
            TimeSpan? grace = record?.Uid == stale.Config.Uid ? GraceOf(record.Pod) : null;
            await StopSandboxAsync(stale.Id, grace, null, cancellationToken).ConfigureAwait(false);
            await runtime.RemovePodSandboxAsync(stale.Id, cancellationToken).ConfigureAwait(false);
            backOff.Forget(BackOffPrefix(ns, key.Name, stale.Config.Uid));
            _volumes.Remove(stale.Config.Uid);
        }

        if (record is not null && (pod is null || record.Uid != pod.Metadata.Uid))
        {
            // Volumes set up for a pod that never got a sandbox have none to go with.
            _volumes.Remove(record.Uid);
        }

        if (pod is null)
        {
            _records.TryRemove(key, out _);
            return;
        }

        if (record is null || record.Uid != pod.Metadata.Uid)
        {
            record = new PodRecord(key, pod.Metadata.Uid);
            _records[key] = record;
        }

        record.Pod = pod;
        var mine = sandboxes.Where(s => s.Config.Uid == pod.Metadata.Uid).ToList();
        if (pod.Metadata.DeletionTimestamp is not null)
        {
            await TerminateAsync(record, pod, mine, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (pod.Status?.Phase is "Succeeded" or "Failed")
        {
            // A finished pod never runs again; its stopped containers stay for their status until it is deleted.
            foreach (var sandbox in mine.Where(s => s.Ready))
            {
                await StopSandboxAsync(sandbox.Id, GraceOf(pod), null, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        var running = mine.FirstOrDefault(s => s.Ready);
        if (!await SetUpVolumesAsync(record, pod, running is not null, cancellationToken).ConfigureAwait(false))
        {
            // As kubelet: no sandbox before the volumes are there; the containers wait in ContainerCreating.
            record.Waiting.Clear();
            await ReportAsync(pod, PodStatusBuilder.Build(pod, record, null, [], _runtimeName, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
            return;
        }

        var fresh = running is null;
        if (running is null)
        {
            await ensurePodCidr(cancellationToken).ConfigureAwait(false);
            var sandboxConfig = new PodSandboxConfig(ns, key.Name, pod.Metadata.Uid)
            {
                PortMappings = PodPortMappings.Of(pod),
                Dns = PodDns.For(pod, options, _nodeSearches.Value),
            };
            try
            {
                running = await runtime.RunPodSandboxAsync(sandboxConfig, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or IOException)
            {
                // As kubelet: the reason once in the pod's events (repeats count up), the containers
                // wait in ContainerCreating, and the pod is tried again with back-off.
                events.Post(pod, Warning, "FailedCreatePodSandBox", $"Failed to create pod sandbox: {ex.Message}");
                record.Waiting.Clear();
                await ReportAsync(pod, PodStatusBuilder.Build(pod, record, null, [], _runtimeName, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
                throw new PodSyncException($"failed to create the pod sandbox: {ex.Message}", ex);
            }
        }

        record.SandboxId = running.Id;
        record.PodIp = running.Ip;

        // A sandbox made just now holds nothing yet: one runtime call fewer per new pod in a burst.
        var containers = fresh ? [] : await runtime.ListContainersAsync(running.Id, cancellationToken).ConfigureAwait(false);
        if (await KillUnhealthyAsync(record, pod, containers, cancellationToken).ConfigureAwait(false)
            | await StartContainersAsync(record, pod, running, containers, cancellationToken).ConfigureAwait(false))
        {
            containers = await runtime.ListContainersAsync(running.Id, cancellationToken).ConfigureAwait(false);

            // What was just started or killed may already have exited (a crash at start), or still be
            // on its way: look again at once instead of waiting for the relist, which would see no
            // change from this list. Containers that all run need no second look: the relist sees
            // them exit, and a burst of new pods is not synced twice.
            if (containers.Any(c => c.State != ContainerState.Running))
            {
                requeueAfter(key, TimeSpan.Zero);
            }
        }

        record.Fingerprint = PodRecord.FingerprintOf(containers);
        record.TrackProbes(pod, containers);
        await ReportAsync(pod, PodStatusBuilder.Build(pod, record, running.Ip, containers, _runtimeName, time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the volume directories of pods that are neither in <paramref name="knownUids"/> (asked after the directories are listed) nor run here.</summary>
    public void RemoveOrphanedVolumes(Func<IEnumerable<string>> knownUids) =>
        _volumes.RemoveOrphans(() => knownUids().Concat(_records.Values.Select(r => r.Uid)).ToHashSet(StringComparer.Ordinal));

    /// <summary>
    /// Sets up the pod's volumes once per record (again after an agent restart, which keeps emptyDir
    /// content and rewrites what changed). False when they are not there and the pod has no sandbox
    /// yet: a FailedMount event says why and the pod is tried again later. A pod whose sandbox runs
    /// goes on with the volumes it has, as kubelet's reconstructed volumes do.
    /// </summary>
    private async Task<bool> SetUpVolumesAsync(PodRecord record, V1Pod pod, bool sandboxRuns, CancellationToken cancellationToken)
    {
        if (record.Volumes is not null && !(_volumes.TokenRefreshDue(record.Uid) is { } due && due <= time.GetUtcNow()))
        {
            return true;
        }

        try
        {
            // Set up once, and again when a projected token is due for renewal (the files are rewritten atomically; emptyDirs keep their content).
            record.Volumes = await _volumes.SetUpAsync(pod, cancellationToken).ConfigureAwait(false);
            if (_volumes.TokenRefreshDue(record.Uid) is { } next)
            {
                requeueAfter(record.Key, next - time.GetUtcNow());
            }

            return true;
        }
        catch (VolumeSetUpException ex)
        {
            LogVolumeSetUpFailed(options.NodeName, record.Key.ToString(), ex.Message);
            events.Post(pod, Warning, "FailedMount", ex.Message);
            requeueAfter(record.Key, options.BackOffInitial);
            return sandboxRuns;
        }
    }

    private async Task ReportAsync(V1Pod pod, V1PodStatus status, CancellationToken cancellationToken)
    {
        if (pod.Status is not null && k8s.KubernetesJson.Serialize(pod.Status) == k8s.KubernetesJson.Serialize(status))
        {
            return;
        }

        try
        {
            // A copy: the informer's cached pod is shared and must not change under its readers.
            await client.UpdateStatusAsync(new V1Pod { ApiVersion = pod.ApiVersion, Kind = pod.Kind, Metadata = pod.Metadata, Spec = pod.Spec, Status = status }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConflictException or NotFoundException)
        {
            // A newer pod or none: its own event brings it back.
        }
    }

    private static ResourceAmounts Allocatable(NodeAgentOptions options) =>
        ResourceAmounts.From(new Dictionary<string, ResourceQuantity> { ["cpu"] = new(options.Cpu), ["memory"] = new(options.Memory) });

    /// <summary>The node's IP for <c>status.hostIP</c>, looked up once and only when a container asks for it.</summary>
    private static Func<string> HostIp(NodeAgentOptions options)
    {
        var detected = new Lazy<string>(() => options.NodeIp ?? NodeIpAddress.Detect());
        return () => detected.Value;
    }

    private static string BackOffPrefix(string ns, string name, string uid) => $"{name}_{ns}_{uid}_";

    /// <summary>A pod as kubelet names it in messages: name_namespace(uid).</summary>
    private static string PodName(V1Pod pod) => $"{pod.Metadata.Name}_{pod.Metadata.NamespaceProperty ?? "default"}({pod.Metadata.Uid})";

    /// <summary>A duration as Go prints it (10s, 1m20s, 5m0s): kubelet's messages carry it so.</summary>
    internal static string GoDuration(TimeSpan span)
    {
        var seconds = (long)Math.Round(span.TotalSeconds);
        var h = seconds / 3600;
        var m = seconds % 3600 / 60;
        var s = seconds % 60;
        return h > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{h}h{m}m{s}s")
            : m > 0 ? string.Create(CultureInfo.InvariantCulture, $"{m}m{s}s") : string.Create(CultureInfo.InvariantCulture, $"{s}s");
    }

    [LoggerMessage(EventId = 3050, Level = LogLevel.Warning, Message = "Node {Node}: pod {Pod}: {Message}")]
    private partial void LogVolumeSetUpFailed(string node, string pod, string message);

    [LoggerMessage(EventId = 3051, Level = LogLevel.Warning, Message = "Node {Node}: container {Container} of pod {Pod} did not start")]
    private partial void LogContainerDidNotStart(Exception ex, string node, string container, string pod);
}
