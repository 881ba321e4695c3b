namespace Orchestration.Runtime.Containerd;

// Images and containers through CRI: created in their sandbox with the pod's config, started, stopped with grace, listed with their state.
public sealed partial class ContainerdRuntime
{
    /// <summary>The images containerd holds for CRI, by every tag they carry.</summary>
    public async Task<IReadOnlyList<string>> ListImagesAsync(CancellationToken cancellationToken)
    {
        var response = await CallAsync("ListImages", () => _images.ListImagesAsync(new Cri.ListImagesRequest(), Options(cancellationToken))).ConfigureAwait(false);
        return response.Images.SelectMany(i => i.RepoTags).ToList();
    }

    /// <summary>Whether containerd holds <paramref name="image"/> (named as a pod names it).</summary>
    public async Task<bool> HasImageAsync(string image, CancellationToken cancellationToken)
    {
        var request = new Cri.ImageStatusRequest { Image = new Cri.ImageSpec { Image = ImageReference.Normalize(image) } };
        var response = await CallAsync("ImageStatus", () => _images.ImageStatusAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        return response.Image is not null;
    }

    /// <inheritdoc />
    /// <exception cref="ImageNotPresentException">containerd does not hold the image (nothing is pulled).</exception>
    public async Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(config);
        var image = ImageReference.Normalize(config.Image);
        if (!await HasImageAsync(image, cancellationToken).ConfigureAwait(false))
        {
            throw new ImageNotPresentException(config.Image, image);
        }

        // containerd wants the sandbox's config again (log directory, labels): rebuild it from its status.
        var sandbox = await SandboxStatusAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        if (!sandbox.Ready)
        {
            throw new InvalidOperationException($"sandbox {sandboxId} of pod {sandbox.Config.Namespace}/{sandbox.Config.Name} is not ready; a container cannot be created in it");
        }

        var container = new Cri.ContainerConfig
        {
            Metadata = new Cri.ContainerMetadata { Name = config.Name, Attempt = (uint)Math.Max(0, config.Attempt) },
            Image = new Cri.ImageSpec { Image = image },
            Command = { config.Command },
            Args = { config.Args },
            Envs = { config.Environment.Select(e => new Cri.KeyValue { Key = e.Key, Value = e.Value }) },
            WorkingDir = config.WorkingDirectory ?? "",

            // containerd shares the node's mount namespace, so the agent's volume paths are the paths it binds.
            Mounts = { config.Mounts.Select(m => new Cri.Mount { ContainerPath = m.ContainerPath, HostPath = m.HostPath, Readonly = m.ReadOnly }) },
            // CRI's status carries neither the sandbox id nor the image as the pod named it.
            Annotations = { [ImageAnnotation] = config.Image, [SandboxAnnotation] = sandboxId },
        };
        if (config.Resources is { } resources)
        {
            container.Linux = new Cri.LinuxContainerConfig
            {
                Resources = new Cri.LinuxContainerResources
                {
                    CpuPeriod = resources.CpuPeriod,
                    CpuQuota = resources.CpuQuota,
                    CpuShares = resources.CpuShares,
                    MemoryLimitInBytes = resources.MemoryLimitInBytes,
                },
            };
        }

        if (config.Labels is not null)
        {
            foreach (var (key, value) in config.Labels)
            {
                container.Labels[key] = value;
            }
        }

        if (_options.PodLogDirectory is not null)
        {
            // Relative to the sandbox's log directory, named as kubelet names it: <container>/<attempt>.log.
            container.LogPath = $"{config.Name}/{config.Attempt}.log";
        }

        var request = new Cri.CreateContainerRequest { PodSandboxId = sandboxId, Config = container, SandboxConfig = SandboxConfig(sandbox.Config, attempt: 0) }; // containerd takes the log directory and Linux settings from it, not the attempt
        var response = await CallAsync("CreateContainer", () => _runtime.CreateContainerAsync(request, Options(cancellationToken)), $"container {config.Name} of pod {sandbox.Config.Namespace}/{sandbox.Config.Name}").ConfigureAwait(false);
        return response.ContainerId;
    }

    /// <inheritdoc />
    public async Task StartContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        await CallAsync("StartContainer", () => _runtime.StartContainerAsync(new Cri.StartContainerRequest { ContainerId = containerId }, Options(cancellationToken)), $"container {containerId}").ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);

        // CRI counts whole seconds; round up so a short grace is never turned into an instant kill.
        var seconds = (long)Math.Ceiling(Math.Max(0, gracePeriod.TotalSeconds));
        var request = new Cri.StopContainerRequest { ContainerId = containerId, Timeout = seconds };
        await CallAsync("StopContainer", () => _runtime.StopContainerAsync(request, Options(cancellationToken, gracePeriod)), $"container {containerId}", ignoreNotFound: true).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        await CallAsync("RemoveContainer", () => _runtime.RemoveContainerAsync(new Cri.RemoveContainerRequest { ContainerId = containerId }, Options(cancellationToken)), $"container {containerId}", ignoreNotFound: true).ConfigureAwait(false);
        _statuses.TryRemove(containerId, out _);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken)
    {
        var request = new Cri.ListContainersRequest { Filter = new Cri.ContainerFilter { PodSandboxId = sandboxId ?? "" } };
        var response = await CallAsync("ListContainers", () => _runtime.ListContainersAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        var list = new List<ContainerStatus>(response.Containers.Count);
        foreach (var container in response.Containers)
        {
            var state = State(container.State);
            if (_statuses.TryGetValue(container.Id, out var known) && known.State == state && state != ContainerState.Created)
            {
                list.Add(known);
                continue;
            }

            try
            {
                list.Add(await ContainerStatusAsync(container.Id, cancellationToken).ConfigureAwait(false));
            }
            catch (InvalidOperationException)
            {
                // Removed between the list and its status: it is simply gone. Anything else is the runtime's failure.
                if (await ExistsAsync(container.Id, cancellationToken).ConfigureAwait(false))
                {
                    throw;
                }
            }
        }

        if (sandboxId is null)
        {
            // Forget containers removed behind our back (by another client, or with their sandbox).
            var present = response.Containers.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var id in _statuses.Keys.Where(id => !present.Contains(id)))
            {
                _statuses.TryRemove(id, out _);
            }
        }

        return list;
    }

    /// <summary>One container's status.</summary>
    /// <exception cref="InvalidOperationException">containerd does not know the container.</exception>
    public async Task<ContainerStatus> ContainerStatusAsync(string containerId, CancellationToken cancellationToken)
    {
        var response = await CallAsync("ContainerStatus", () => _runtime.ContainerStatusAsync(new Cri.ContainerStatusRequest { ContainerId = containerId }, Options(cancellationToken)), $"container {containerId}").ConfigureAwait(false);
        var status = ToStatus(response.Status);
        if (status.SandboxId.Length == 0)
        {
            // A container another client created has no sandbox annotation: take the id from the list entry.
            var listed = await CallAsync("ListContainers", () => _runtime.ListContainersAsync(new Cri.ListContainersRequest { Filter = new Cri.ContainerFilter { Id = containerId } }, Options(cancellationToken))).ConfigureAwait(false);
            status = status with { SandboxId = listed.Containers.FirstOrDefault()?.PodSandboxId ?? "" };
        }

        if (status.State is ContainerState.Running or ContainerState.Exited)
        {
            _statuses[containerId] = status;
        }

        return status;
    }

    private async Task<bool> ExistsAsync(string containerId, CancellationToken cancellationToken)
    {
        var listed = await CallAsync("ListContainers", () => _runtime.ListContainersAsync(new Cri.ListContainersRequest { Filter = new Cri.ContainerFilter { Id = containerId } }, Options(cancellationToken))).ConfigureAwait(false);
        return listed.Containers.Count > 0;
    }

    private static ContainerStatus ToStatus(Cri.ContainerStatus status)
    {
        var state = State(status.State);
        var exited = state == ContainerState.Exited;
        var reason = status.Reason;
        if (exited && string.IsNullOrEmpty(reason))
        {
            reason = status.ExitCode == 0 ? "Completed" : "Error";
        }

        return new ContainerStatus(
            status.Id,
            status.Annotations.GetValueOrDefault(SandboxAnnotation) ?? "",
            status.Metadata?.Name ?? "",
            status.Annotations.GetValueOrDefault(ImageAnnotation) ?? status.Image?.Image ?? "",
            state,
            Time(status.StartedAt),
            Time(status.FinishedAt),
            exited ? status.ExitCode : null,
            exited ? reason : null,
            (int)(status.Metadata?.Attempt ?? 0),
            status.Labels.ToDictionary(l => l.Key, l => l.Value, StringComparer.Ordinal),
            Time(status.CreatedAt))
        {
            LogPath = string.IsNullOrEmpty(status.LogPath) ? null : status.LogPath,
        };
    }

    // CRI times are nanoseconds since the epoch; zero is "never".
    private static DateTimeOffset? Time(long unixNanoseconds) =>
        unixNanoseconds <= 0 ? null : DateTimeOffset.UnixEpoch.AddTicks(unixNanoseconds / 100);

    // CONTAINER_UNKNOWN (containerd lost track of the task) is reported as exited: the agent then restarts it per policy.
    private static ContainerState State(Cri.ContainerState state) => state switch
    {
        Cri.ContainerState.ContainerCreated => ContainerState.Created,
        Cri.ContainerState.ContainerRunning => ContainerState.Running,
        _ => ContainerState.Exited,
    };
}
