using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Orchestration.Runtime.Docker;

// Containers joined to their pod's sandbox: created with the pod's config, started, stopped with grace, listed with their state.
public sealed partial class DockerRuntime
{
    /// <inheritdoc />
    /// <exception cref="ImageNotPresentException">dockerd does not hold the image (nothing is pulled).</exception>
    public async Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(config);
        var image = ImageReference.Normalize(config.Image);
        if (!await HasImageAsync(image, cancellationToken).ConfigureAwait(false))
        {
            throw new ImageNotPresentException(config.Image, image);
        }

        var sandbox = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(sandboxId, ct), $"sandbox {sandboxId}").ConfigureAwait(false);
        var pod = ToConfig(sandbox.Config.Labels);
        if (!sandbox.State.Running)
        {
            throw new InvalidOperationException($"sandbox {sandboxId} of pod {pod.Namespace}/{pod.Name} is not running; a container cannot be created in it");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in config.Labels ?? new Dictionary<string, string>())
        {
            labels[key] = value;
        }

        foreach (var (key, value) in PodLabels(pod, "container"))
        {
            labels[key] = value;
        }

        labels[Labels.ContainerName] = config.Name;
        labels[Labels.Attempt] = config.Attempt.ToString(CultureInfo.InvariantCulture);
        labels[Labels.SandboxId] = sandbox.ID;
        labels[Labels.Image] = config.Image;

        var parameters = new CreateContainerParameters
        {
            Name = ContainerName(config.Name, pod, config.Attempt),
            Image = image,

            // Kubernetes' command replaces the image's entrypoint (and drops its cmd, as Docker does when
            // an entrypoint is given); args alone replace only the cmd. Null keeps the image's.
            Entrypoint = config.Command.Count > 0 ? config.Command.ToList() : null,
            Cmd = config.Args.Count > 0 ? config.Args.ToList() : null,
            Env = config.Environment.Select(e => $"{e.Key}={e.Value}").ToList(),
            WorkingDir = config.WorkingDirectory ?? "",
            Labels = labels,
            HostConfig = new HostConfig
            {
                NetworkMode = $"container:{sandbox.ID}",
                IpcMode = $"container:{sandbox.ID}",

                // dockerd shares the node's mount namespace, so the agent's volume paths are the paths it binds.
                // A bind mount of a missing path fails rather than being created empty, as CRI's does.
                Mounts = config.Mounts.Select(m => new Mount { Type = "bind", Source = m.HostPath, Target = m.ContainerPath, ReadOnly = m.ReadOnly }).ToList(),

                // The json-file driver writes the file the node agent serves logs from.
                LogConfig = new LogConfig { Type = "json-file", Config = new Dictionary<string, string>() },
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            },
        };
        if (config.Resources is { } resources)
        {
            parameters.HostConfig.CPUPeriod = resources.CpuPeriod;
            parameters.HostConfig.CPUQuota = resources.CpuQuota;
            parameters.HostConfig.CPUShares = resources.CpuShares;
            parameters.HostConfig.Memory = resources.MemoryLimitInBytes;

            // As kubelet: the memory limit is not stretched by swap.
            if (resources.MemoryLimitInBytes > 0)
            {
                parameters.HostConfig.MemorySwap = resources.MemoryLimitInBytes;
            }
        }

        var created = await CallAsync("container create", cancellationToken, ct => _client.Containers.CreateContainerAsync(parameters, ct), $"container {config.Name} of pod {pod.Namespace}/{pod.Name}").ConfigureAwait(false);
        return created.ID;
    }

    /// <inheritdoc />
    public async Task StartContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        await CallAsync("container start", cancellationToken, ct => _client.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), ct), $"container {containerId}").ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);

        // dockerd counts whole seconds; round up so a short grace is never turned into an instant kill.
        var seconds = (uint)Math.Ceiling(Math.Max(0, gracePeriod.TotalSeconds));
        if (seconds == 0)
        {
            // The client leaves a zero timeout out of the request, and dockerd then waits its default 10 s: kill outright.
            try
            {
                await CallAsync("container kill", cancellationToken, ct => _client.Containers.KillContainerAsync(containerId, new ContainerKillParameters { Signal = "SIGKILL" }, ct), $"container {containerId}", ignoreNotFound: true).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex) when (ex.InnerException is DockerApiException { StatusCode: HttpStatusCode.Conflict })
            {
                // Not running: stopped already.
            }

            return;
        }

        await CallAsync(
            "container stop",
            cancellationToken,
            ct => _client.Containers.StopContainerAsync(containerId, new ContainerStopParameters { WaitBeforeKillSeconds = seconds }, ct),
            $"container {containerId}",
            ignoreNotFound: true,
            extra: TimeSpan.FromSeconds(seconds)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        try
        {
            await CallAsync("container remove", cancellationToken, ct => _client.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, ct), $"container {containerId}", ignoreNotFound: true).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (ex.InnerException is DockerApiException { StatusCode: HttpStatusCode.Conflict } api && api.ResponseBody.Contains("already in progress", StringComparison.Ordinal))
        {
            // Another removal of it (with its sandbox) is under way: it is going.
        }

        _statuses.TryRemove(containerId, out _);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken)
    {
        var listed = sandboxId is null
            ? await ListAsync(Labels.Kind, "container", cancellationToken).ConfigureAwait(false)
            : await ListAsync(Labels.SandboxId, sandboxId, cancellationToken).ConfigureAwait(false);
        var list = new List<ContainerStatus>(listed.Count);
        foreach (var container in listed)
        {
            var state = State(container.State);
            if (_statuses.TryGetValue(container.ID, out var known) && known.State == state && state != ContainerState.Created)
            {
                list.Add(known);
                continue;
            }

            if (await ContainerStatusAsync(container.ID, cancellationToken).ConfigureAwait(false) is { } status)
            {
                list.Add(status);
            }
        }

        if (sandboxId is null)
        {
            // Forget containers removed behind our back (by another client, or with their sandbox).
            var present = listed.Select(c => c.ID).ToHashSet(StringComparer.Ordinal);
            foreach (var id in _statuses.Keys.Where(id => !present.Contains(id)))
            {
                _statuses.TryRemove(id, out _);
            }
        }

        return list;
    }

    /// <summary>One container's status, or null when dockerd does not know it (removed meanwhile).</summary>
    public async Task<ContainerStatus?> ContainerStatusAsync(string containerId, CancellationToken cancellationToken)
    {
        var inspected = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(containerId, ct), $"container {containerId}", ignoreNotFound: true).ConfigureAwait(false);
        if (inspected is null)
        {
            return null;
        }

        var status = ToStatus(inspected);
        if (status.State is ContainerState.Running or ContainerState.Exited)
        {
            _statuses[containerId] = status;
        }

        return status;
    }

    // Every container this runtime made carries the kind label; another client's containers are not pods.
    private async Task<IList<ContainerListResponse>> ListAsync(string label, string value, CancellationToken cancellationToken)
    {
        var parameters = new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>>
            {
                ["label"] = new Dictionary<string, bool> { [$"{label}={value}"] = true },
            },
        };
        var listed = await CallAsync("container list", cancellationToken, ct => _client.Containers.ListContainersAsync(parameters, ct)).ConfigureAwait(false);
        return (listed ?? []).Where(c => c.Labels?.ContainsKey(Labels.Kind) == true).ToList();
    }

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    // Names as `docker ps` shows them, unique by a random tail: a create retried with the same attempt must not collide.
    private static string ContainerName(string container, PodSandboxConfig pod, int attempt) =>
        $"orch_{container}_{pod.Name}_{pod.Namespace}_{attempt.ToString(CultureInfo.InvariantCulture)}_{Guid.NewGuid().ToString("N")[..8]}";

    private static ContainerStatus ToStatus(ContainerInspectResponse inspected)
    {
        var labels = inspected.Config?.Labels ?? new Dictionary<string, string>();
        var state = State(inspected.State?.Status);
        var exited = state == ContainerState.Exited;
        var exitCode = (int)(inspected.State?.ExitCode ?? 0);
        string? reason = null;
        if (exited)
        {
            reason = inspected.State?.OOMKilled == true ? "OOMKilled" : exitCode == 0 ? "Completed" : "Error";
        }

        _ = int.TryParse(Label(labels, Labels.Attempt), NumberStyles.None, CultureInfo.InvariantCulture, out var attempt);
        return new ContainerStatus(
            inspected.ID,
            Label(labels, Labels.SandboxId) ?? "",
            Label(labels, Labels.ContainerName) ?? inspected.Name.TrimStart('/'),
            Label(labels, Labels.Image) ?? inspected.Config?.Image ?? "",
            state,
            Time(inspected.State?.StartedAt),
            exited ? Time(inspected.State?.FinishedAt) : null,
            exited ? exitCode : null,
            reason,
            attempt,

            // The labels the container was created with, without the runtime's own bookkeeping.
            labels.Where(l => !l.Key.StartsWith(Labels.Prefix, StringComparison.Ordinal)).ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal),
            new DateTimeOffset(DateTime.SpecifyKind(inspected.Created, inspected.Created.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : inspected.Created.Kind)).ToUniversalTime())
        {
            LogPath = string.IsNullOrEmpty(inspected.LogPath) ? null : inspected.LogPath,
        };
    }

    // Docker writes "0001-01-01T00:00:00Z" for "never".
    private static DateTimeOffset? Time(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) && time.Year > 1 ? time.ToUniversalTime() : null;

    // A paused or restarting container still has its process; dead and removing ones are as good as exited.
    private static ContainerState State(string? state) => state switch
    {
        "created" => ContainerState.Created,
        "running" or "paused" or "restarting" => ContainerState.Running,
        _ => ContainerState.Exited,
    };
}
