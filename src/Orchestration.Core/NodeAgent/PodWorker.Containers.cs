using System.Globalization;
using k8s.Models;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

// Starting a pod's containers in order (init containers, sidecars, the rest), restarting them by policy with crash-loop back-off, and what a container that cannot start reports.
internal sealed partial class PodWorker
{
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
        LogContainerDidNotStart(ex, options.NodeName, spec.Name, record.Key.ToString());

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
}
