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
internal sealed class PodWorker(
    IClusterClient client,
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
    private readonly PodVolumes _volumes = new(client, options.PodsDirectory, Allocatable(options), time, logger);
    private readonly ContainerEnvironment _environment = new(client, HostIp(options), Allocatable(options));

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
            var sandboxConfig = new PodSandboxConfig(ns, key.Name, pod.Metadata.Uid) { PortMappings = PodPortMappings.Of(pod) };
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
        if (record.Volumes is not null)
        {
            return true;
        }

        try
        {
            record.Volumes = await _volumes.SetUpAsync(pod, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (VolumeSetUpException ex)
        {
            logger.LogWarning("Node {Node}: pod {Pod}: {Message}", options.NodeName, record.Key, ex.Message);
            events.Post(pod, Warning, "FailedMount", ex.Message);
            requeueAfter(record.Key, options.BackOffInitial);
            return sandboxRuns;
        }
    }

    /// <summary>Starts what should run now: the next init container, or the app containers once all init containers completed.</summary>
    private async Task<bool> StartContainersAsync(PodRecord record, V1Pod pod, PodSandbox sandbox, IReadOnlyList<ContainerStatus> containers, CancellationToken cancellationToken)
    {
        var latest = containers
            .GroupBy(c => c.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(c => c.Attempt).ThenByDescending(c => c.CreatedAt).First(), StringComparer.Ordinal);
        var policy = pod.Spec.RestartPolicy ?? "Always";
        var changed = false;
        record.Waiting.Clear();

        // Once app containers exist the pod was initialized: init containers do not run again, sidecars go on.
        var apps = pod.Spec.Containers ?? [];
        var initialized = apps.Any(a => latest.ContainsKey(a.Name));
        var done = initialized && policy != "Always" && apps.All(a => latest.TryGetValue(a.Name, out var c) && c.State == ContainerState.Exited && (policy == "Never" || c.ExitCode == 0));
        foreach (var init in pod.Spec.InitContainers ?? [])
        {
            latest.TryGetValue(init.Name, out var current);
            if (IsSidecar(init))
            {
                // A sidecar (an init container that restarts always) keeps running beside the app
                // containers; the next init container waits only until it has started.
                if (current?.State == ContainerState.Running)
                {
                    if (!initialized && !record.Started(current.Id))
                    {
                        return changed;
                    }

                    continue;
                }

                if (done)
                {
                    continue;
                }

                changed |= current switch
                {
                    null => await StartAsync(record, pod, sandbox, init, 0, cancellationToken).ConfigureAwait(false),
                    { State: ContainerState.Created } => await StartCreatedAsync(record, pod, init, current, cancellationToken).ConfigureAwait(false),
                    _ => await RestartAsync(record, pod, sandbox, init, current, containers, cancellationToken).ConfigureAwait(false),
                };
                if (!initialized)
                {
                    return changed;
                }

                continue;
            }

            if (initialized)
            {
                continue;
            }

            if (current is null)
            {
                return await StartAsync(record, pod, sandbox, init, 0, cancellationToken).ConfigureAwait(false) | changed;
            }

            switch (current.State)
            {
                case ContainerState.Created:
                    return await StartCreatedAsync(record, pod, init, current, cancellationToken).ConfigureAwait(false) | changed;
                case ContainerState.Running:
                    return changed;
                case ContainerState.Exited when current.ExitCode == 0:
                    continue;
                default:
                    // A failed init container runs again unless the pod never restarts anything (then it fails).
                    return (policy != "Never" && await RestartAsync(record, pod, sandbox, init, current, containers, cancellationToken).ConfigureAwait(false)) | changed;
            }
        }

        foreach (var app in pod.Spec.Containers ?? [])
        {
            if (!latest.TryGetValue(app.Name, out var current))
            {
                changed |= await StartAsync(record, pod, sandbox, app, 0, cancellationToken).ConfigureAwait(false);
            }
            else if (current.State == ContainerState.Created)
            {
                changed |= await StartCreatedAsync(record, pod, app, current, cancellationToken).ConfigureAwait(false);
            }
            else if (current.State == ContainerState.Exited && (policy == "Always" || (policy == "OnFailure" && current.ExitCode != 0)))
            {
                changed |= await RestartAsync(record, pod, sandbox, app, current, containers, cancellationToken).ConfigureAwait(false);
            }
        }

        return changed;
    }

    /// <summary>A sidecar: an init container with its own restartPolicy Always, which runs beside the app containers.</summary>
    internal static bool IsSidecar(V1Container container) => container.RestartPolicy == "Always";

    /// <summary>Starts the next attempt of an exited container unless it is backing off; then it waits with kubelet's CrashLoopBackOff message.</summary>
    private async Task<bool> RestartAsync(PodRecord record, V1Pod pod, PodSandbox sandbox, V1Container spec, ContainerStatus exited, IReadOnlyList<ContainerStatus> containers, CancellationToken cancellationToken)
    {
        var key = BackOffPrefix(pod.Metadata.NamespaceProperty ?? "default", pod.Metadata.Name, pod.Metadata.Uid) + spec.Name;
        var exitedAt = exited.FinishedAt ?? time.GetUtcNow();
        var (remaining, period) = backOff.Remaining(key, exitedAt);
        if (remaining > TimeSpan.Zero)
        {
            var podName = PodName(pod);
            record.Waiting[spec.Name] = ("CrashLoopBackOff", $"back-off {GoDuration(period)} restarting failed container={spec.Name} pod={podName}");
            if (record.AnnounceBackOff(exited.Id))
            {
                events.Post(pod, Warning, "BackOff", $"Back-off restarting failed container {spec.Name} in pod {podName}");
            }

            requeueAfter(record.Key, remaining);
            return false;
        }

        backOff.Restarted(key, exitedAt);

        // kubelet keeps the exited container before the new one for its last state; older ones go.
        foreach (var old in containers.Where(c => c.Name == spec.Name && c.Id != exited.Id && c.Attempt <= exited.Attempt && c.State == ContainerState.Exited))
        {
            await runtime.RemoveContainerAsync(old.Id, cancellationToken).ConfigureAwait(false);
        }

        return await StartAsync(record, pod, sandbox, spec, exited.Attempt + 1, cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> StartAsync(PodRecord record, V1Pod pod, PodSandbox sandbox, V1Container spec, int attempt, CancellationToken cancellationToken)
    {
        if (StillFailing(record, spec))
        {
            return false;
        }

        ContainerConfig config;
        try
        {
            config = await ConfigOfAsync(record, pod, sandbox, spec, attempt, cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerConfigException ex)
        {
            // kubelet retries these at its pod sync period (10 s) without a growing back-off: the
            // ConfigMap or Secret may appear at any time.
            return Failed(record, pod, spec, "CreateContainerConfigError", ex, options.BackOffInitial);
        }

        string id;
        try
        {
            id = await runtime.CreateContainerAsync(sandbox.Id, config, cancellationToken).ConfigureAwait(false);
        }
        catch (ImageNotPresentException ex) when (PullPolicy(spec) == "Never")
        {
            return Failed(record, pod, spec, "ErrImageNeverPull", ex);
        }
        catch (ImageNotPresentException ex)
        {
            // Under IfNotPresent or Always kubelet would pull; no registry is reachable, so the pull
            // fails as one that cannot reach its registry does: ErrImagePull, then ImagePullBackOff
            // while the back-off runs (see StillFailing).
            return Failed(record, pod, spec, ErrImagePull, new InvalidOperationException($"failed to pull image \"{spec.Image}\": it is not on the node and this runtime pulls from no registry (looked up as {ex.ResolvedImage}); import it into the node's runtime", ex));
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            return Failed(record, pod, spec, "CreateContainerError", ex);
        }

        events.Post(pod, Normal, "Pulled", $"Container image \"{spec.Image}\" already present on machine");
        events.Post(pod, Normal, "Created", $"Created container: {spec.Name}");
        return await StartCreatedAsync(record, pod, spec, id, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The container's config from its spec: env, command and args with $(VAR) expanded, mounts, working directory, cgroup limits.</summary>
    /// <exception cref="ContainerConfigException">What kubelet reports as CreateContainerConfigError.</exception>
    private async Task<ContainerConfig> ConfigOfAsync(PodRecord record, V1Pod pod, PodSandbox sandbox, V1Container spec, int attempt, CancellationToken cancellationToken)
    {
        var environment = await _environment.BuildAsync(pod, spec, sandbox.Ip, cancellationToken).ConfigureAwait(false);
        foreach (var warning in environment.Warnings)
        {
            events.Post(pod, Warning, "InvalidEnvironmentVariableNames", warning);
        }

        var variables = environment.Variables;
        string Expand(string text) => VariableExpansion.Expand(text, name => variables.TryGetValue(name, out var value) ? value : null);
        return new ContainerConfig(
            spec.Name,
            spec.Image,
            spec.Command?.Select(Expand).ToList() ?? [],
            spec.Args?.Select(Expand).ToList() ?? [],
            variables,
            attempt,
            new Dictionary<string, string>
            {
                ["io.kubernetes.pod.name"] = pod.Metadata.Name,
                ["io.kubernetes.pod.namespace"] = pod.Metadata.NamespaceProperty ?? "default",
                ["io.kubernetes.pod.uid"] = pod.Metadata.Uid,
                ["io.kubernetes.container.name"] = spec.Name,
                [GraceLabel] = (pod.Spec?.TerminationGracePeriodSeconds ?? 30).ToString(CultureInfo.InvariantCulture),
            })
        {
            WorkingDirectory = string.IsNullOrEmpty(spec.WorkingDir) ? null : spec.WorkingDir,
            Mounts = ContainerMounts.For(spec, record.Volumes ?? _volumes.PathsOf(pod), variables),
            Resources = CgroupResources.For(spec),
        };
    }

    private Task<bool> StartCreatedAsync(PodRecord record, V1Pod pod, V1Container spec, ContainerStatus created, CancellationToken cancellationToken) =>
        StartCreatedAsync(record, pod, spec, created.Id, cancellationToken);

    private async Task<bool> StartCreatedAsync(PodRecord record, V1Pod pod, V1Container spec, string id, CancellationToken cancellationToken)
    {
        if (StillFailing(record, spec))
        {
            return false;
        }

        try
        {
            await runtime.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            return Failed(record, pod, spec, "RunContainerError", ex);
        }

        record.StartFailures.Remove(spec.Name);

        events.Post(pod, Normal, "Started", $"Started container {spec.Name}");
        return true;
    }

    /// <summary>Whether a container the runtime failed to create or start waits for its retry time yet (it keeps its waiting reason meanwhile).</summary>
    private const string ErrImagePull = "ErrImagePull";

    private bool StillFailing(PodRecord record, V1Container spec)
    {
        if (!record.StartFailures.TryGetValue(spec.Name, out var failure) || failure.RetryAt <= time.GetUtcNow())
        {
            return false;
        }

        record.Waiting[spec.Name] = failure.Reason == ErrImagePull
            ? ("ImagePullBackOff", $"Back-off pulling image \"{spec.Image}\"")
            : (failure.Reason, failure.Message);
        return true;
    }

    /// <summary>The pull policy in effect: as given, else Always for an untagged or <c>:latest</c> image and IfNotPresent otherwise.</summary>
    private static string PullPolicy(V1Container spec)
    {
        if (!string.IsNullOrEmpty(spec.ImagePullPolicy))
        {
            return spec.ImagePullPolicy;
        }

        var image = spec.Image ?? "";
        var name = image.Contains('@', StringComparison.Ordinal) ? image[..image.IndexOf('@', StringComparison.Ordinal)] : image;
        var tagAt = name.LastIndexOf(':');
        var tagged = tagAt > name.LastIndexOf('/');
        return image.Contains('@', StringComparison.Ordinal) || (tagged && name[(tagAt + 1)..] != "latest") ? "IfNotPresent" : "Always";
    }

    /// <summary>Records a container that could not be created or started; it is retried after <paramref name="retryAfter"/>, else after the crash-loop back-off.</summary>
    private bool Failed(PodRecord record, V1Pod pod, V1Container spec, string reason, Exception ex, TimeSpan? retryAfter = null)
    {
        logger.LogWarning(ex, "Node {Node}: container {Container} of pod {Pod} did not start", options.NodeName, spec.Name, record.Key);

        // Not tried again before the retry time, whatever syncs the pod meanwhile; by default that is
        // the crash-loop back-off (10 s, 20 s, ...).
        var now = time.GetUtcNow();
        var wait = retryAfter ?? TimeSpan.Zero;
        if (retryAfter is null)
        {
            var key = BackOffPrefix(pod.Metadata.NamespaceProperty ?? "default", pod.Metadata.Name, pod.Metadata.Uid) + spec.Name + "/start";
            backOff.Restarted(key, now);
            (wait, _) = backOff.Remaining(key, now);
        }

        record.StartFailures[spec.Name] = (now + wait, reason, ex.Message);
        record.Waiting[spec.Name] = (reason, ex.Message);
        events.Post(pod, Warning, "Failed", $"Error: {ex.Message}");
        requeueAfter(record.Key, wait);

        // Nothing changed in the runtime: no immediate second look, only the retry after the back-off.
        return false;
    }

    /// <summary>Kills the containers whose liveness or startup probe failed; the restart policy then decides whether they run again.</summary>
    private async Task<bool> KillUnhealthyAsync(PodRecord record, V1Pod pod, IReadOnlyList<ContainerStatus> containers, CancellationToken cancellationToken)
    {
        var killed = false;
        foreach (var (containerId, message, grace) in record.TakeKills())
        {
            var container = containers.FirstOrDefault(c => c.Id == containerId && c.State == ContainerState.Running);
            if (container is null)
            {
                continue;
            }

            events.Post(pod, Normal, "Killing", message);
            // A probe may give its own, shorter grace (probe-level terminationGracePeriodSeconds).
            await runtime.StopContainerAsync(containerId, grace ?? GraceOf(pod), cancellationToken).ConfigureAwait(false);
            killed = true;
        }

        return killed;
    }

    /// <summary>
    /// A pod marked for deletion: its containers get its grace period to stop, its last status is
    /// written, and the pod object is deleted for good (uid precondition, no further grace), as kubelet
    /// does, so a waiting <c>kubectl delete</c> returns.
    /// </summary>
    private async Task TerminateAsync(PodRecord record, V1Pod pod, List<PodSandbox> sandboxes, CancellationToken cancellationToken)
    {
        var grace = pod.Metadata.DeletionGracePeriodSeconds is { } seconds && seconds > 0 ? TimeSpan.FromSeconds(seconds) : GraceOf(pod);
        foreach (var sandbox in sandboxes)
        {
            await StopSandboxAsync(sandbox.Id, grace, pod, cancellationToken).ConfigureAwait(false);
        }

        if (sandboxes.FirstOrDefault() is { } last && pod.Status?.Phase is not ("Succeeded" or "Failed"))
        {
            var containers = await runtime.ListContainersAsync(last.Id, cancellationToken).ConfigureAwait(false);
            await ReportAsync(pod, PodStatusBuilder.Build(pod, record, last.Ip, containers, _runtimeName, time.GetUtcNow(), final: true), cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid, GracePeriodSeconds = 0 }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NotFoundException or ConflictException)
        {
            // Gone already, or a new pod of the same name: nothing of this one is left to delete.
        }
    }

    /// <summary>Stops a sandbox's running containers within <paramref name="grace"/> (Killing events when <paramref name="pod"/> is known), then the sandbox.</summary>
    private async Task StopSandboxAsync(string sandboxId, TimeSpan? grace, V1Pod? pod, CancellationToken cancellationToken)
    {
        var containers = await runtime.ListContainersAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(containers.Where(c => c.State == ContainerState.Running).Select(async c =>
        {
            if (pod is not null)
            {
                events.Post(pod, Normal, "Killing", $"Stopping container {c.Name}");
            }

            await runtime.StopContainerAsync(c.Id, grace ?? LabelledGrace(c), cancellationToken).ConfigureAwait(false);
        })).ConfigureAwait(false);
        await runtime.StopPodSandboxAsync(sandboxId, cancellationToken).ConfigureAwait(false);
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

    private static TimeSpan GraceOf(V1Pod? pod) => TimeSpan.FromSeconds(pod?.Spec?.TerminationGracePeriodSeconds ?? 30);

    /// <summary>The grace period a container was created with (its <see cref="GraceLabel"/>), or the default 30 s for one without.</summary>
    private static TimeSpan LabelledGrace(ContainerStatus container) =>
        container.Labels?.TryGetValue(GraceLabel, out var text) == true && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(30);

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
}
