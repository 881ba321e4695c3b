using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux;

namespace Orchestration.Runtime.Docker;

/// <summary>
/// <see cref="INodeRuntime"/> over the Docker Engine API on dockerd's unix socket. A pod is a
/// sandbox container (the local sandbox image, whose process only sleeps) on a bridge network whose
/// subnet is the node's pod CIDR, and its containers join the sandbox's network and IPC namespaces
/// (<c>container:&lt;sandbox id&gt;</c>), so they share localhost and one IP, as kubelet's dockershim
/// built pods. Everything the node agent needs back after a restart is kept in container labels.
/// Images are only taken from what dockerd holds; a missing one is an <see cref="ImageNotPresentException"/>.
/// Network probes connect from inside dockerd's network namespace (see <see cref="DockerRuntimeOptions.NetworkNamespacePath"/>).
/// </summary>
public sealed class DockerRuntime : INodeRuntime, IRuntimeConnection, IContainerStreams, INetworkProber, IRuntimeConditions, IAsyncDisposable, IDisposable
{
    private const string UnknownVersion = "docker://unknown";

    private readonly DockerRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DockerClient _client;
    private readonly NamespacedNetworkProber _prober;
    private readonly SemaphoreSlim _networkLock = new(1, 1);

    // Statuses of running and exited containers only change by leaving that state, so a relist asks
    // dockerd for one list and inspects only containers whose state moved.
    private readonly ConcurrentDictionary<string, ContainerStatus> _statuses = new(StringComparer.Ordinal);
    private string _version = UnknownVersion;

    /// <summary>Creates a client of the dockerd at <see cref="DockerRuntimeOptions.SocketPath"/>; it connects on first use.</summary>
    public DockerRuntime(IOptions<DockerRuntimeOptions> options, TimeProvider? timeProvider = null, ILogger<DockerRuntime>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;

        // No client-side timeout: every call carries its own deadline (a stop waits its grace period).
        _client = new DockerClientConfiguration(new Uri("unix://" + _options.SocketPath), defaultTimeout: Timeout.InfiniteTimeSpan).CreateClient();
        _prober = new NamespacedNetworkProber(_options.NetworkNamespacePath);
    }

    /// <summary>The runtime's name and version as the node reports it (<c>docker://20.10.24</c>), once <see cref="ConnectAsync"/> ran.</summary>
    public string Version => _version;

    /// <summary>Asks dockerd for its version, retrying until it answers or <paramref name="timeout"/> passes.</summary>
    /// <exception cref="IOException">dockerd did not answer on its socket in time.</exception>
    public async Task ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            try
            {
                await ReadVersionAsync(cancellationToken).ConfigureAwait(false);
                _logger.LogInformation("Connected to {Runtime} at {Socket}", _version, _options.SocketPath);
                return;
            }
            catch (IOException) when (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new IOException($"dockerd at {_options.SocketPath} did not answer within {timeout}: {ex.Message}. Is it running?", ex);
            }
        }
    }

    /// <summary>
    /// RuntimeReady while dockerd answers its ping; NetworkReady once the pod network exists (after
    /// <see cref="UpdateRuntimeConfigAsync"/>), since sandboxes get no IP before.
    /// </summary>
    /// <exception cref="IOException">dockerd does not answer on its socket.</exception>
    public async Task<IReadOnlyList<RuntimeCondition>> GetConditionsAsync(CancellationToken cancellationToken)
    {
        await CallAsync("ping", cancellationToken, ct => _client.System.PingAsync(ct)).ConfigureAwait(false);
        if (_version == UnknownVersion)
        {
            await ReadVersionAsync(cancellationToken).ConfigureAwait(false);
        }

        var network = await FindNetworkAsync(cancellationToken).ConfigureAwait(false);
        return
        [
            new RuntimeCondition(RuntimeCondition.RuntimeReady, true, "", ""),
            network is null
                ? new RuntimeCondition(RuntimeCondition.NetworkReady, false, "NetworkPluginNotReady", $"the pod network {_options.NetworkName} does not exist yet: the node has no pod CIDR")
                : new RuntimeCondition(RuntimeCondition.NetworkReady, true, "", ""),
        ];
    }

    /// <summary>The images dockerd holds, by every tag they carry.</summary>
    public async Task<IReadOnlyList<string>> ListImagesAsync(CancellationToken cancellationToken)
    {
        var images = await CallAsync("image list", cancellationToken, ct => _client.Images.ListImagesAsync(new ImagesListParameters(), ct)).ConfigureAwait(false);
        return (images ?? []).SelectMany(i => i.RepoTags ?? []).ToList();
    }

    /// <summary>Whether dockerd holds <paramref name="image"/> (named as a pod names it).</summary>
    public async Task<bool> HasImageAsync(string image, CancellationToken cancellationToken)
    {
        var inspected = await CallAsync("image inspect", cancellationToken, ct => _client.Images.InspectImageAsync(ImageReference.Normalize(image), ct), ignoreNotFound: true).ConfigureAwait(false);
        return inspected is not null;
    }

    /// <summary>
    /// Loads an image tarball (as <c>docker load</c> takes it: a Docker-style <c>manifest.json</c>,
    /// which the tarballs of scripts/build-images.sh carry beside their OCI layout).
    /// </summary>
    /// <exception cref="InvalidOperationException">dockerd refused the tarball.</exception>
    public async Task LoadImageAsync(string archivePath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(archivePath);
        var errors = new List<string>();
        var progress = new Progress(message =>
        {
            if (!string.IsNullOrEmpty(message.ErrorMessage))
            {
                lock (errors)
                {
                    errors.Add(message.ErrorMessage);
                }
            }
        });
        await using (var archive = File.OpenRead(archivePath))
        {
            await CallAsync("image load", cancellationToken, ct => _client.Images.LoadImageAsync(new ImageLoadParameters { Quiet = true }, archive, progress, ct), archivePath).ConfigureAwait(false);
        }

        lock (errors)
        {
            if (errors.Count > 0)
            {
                throw new InvalidOperationException($"dockerd did not load {archivePath}: {string.Join("; ", errors)}");
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Creates the bridge network <see cref="DockerRuntimeOptions.NetworkName"/> with the CIDR as its
    /// subnet and its first address as the gateway, or keeps it when it already has that subnet. A
    /// network with another subnet is replaced while no container uses it.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The network exists with another subnet and containers still use it.</exception>
    public async Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(podCidr);
        var subnet = IPNetwork.Parse(podCidr);
        var gateway = Gateway(subnet);
        await _networkLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var existing = await FindNetworkAsync(cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                var subnets = existing.IPAM?.Config?.Select(c => c.Subnet).ToList() ?? [];
                if (subnets.Count == 1 && IPNetwork.TryParse(subnets[0], out var current) && current == subnet)
                {
                    return;
                }

                if (existing.Containers is { Count: > 0 })
                {
                    throw new InvalidOperationException($"The Docker network {_options.NetworkName} has subnet {string.Join(", ", subnets)}, not the node's pod CIDR {podCidr}, and {existing.Containers.Count} container(s) still use it; remove those pods (or the network) first.");
                }

                _logger.LogWarning("Replacing Docker network {Network} (subnet {Old}) with one for pod CIDR {Cidr}", _options.NetworkName, string.Join(", ", subnets), podCidr);
                await CallAsync("network remove", cancellationToken, ct => _client.Networks.DeleteNetworkAsync(existing.ID, ct), ignoreNotFound: true).ConfigureAwait(false);
            }

            var parameters = new NetworksCreateParameters
            {
                Name = _options.NetworkName,
                Driver = "bridge",
                CheckDuplicate = true,
                IPAM = new IPAM { Driver = "default", Config = [new IPAMConfig { Subnet = subnet.ToString(), Gateway = gateway }] },
                Options = new Dictionary<string, string> { ["com.docker.network.bridge.name"] = _options.BridgeName },
                Labels = new Dictionary<string, string> { [Labels.Kind] = "pod-network" },
            };
            await CallAsync("network create", cancellationToken, ct => _client.Networks.CreateNetworkAsync(parameters, ct), _options.NetworkName).ConfigureAwait(false);
            _logger.LogInformation("Created Docker network {Network} for pod CIDR {Cidr} (gateway {Gateway})", _options.NetworkName, podCidr, gateway);
        }
        finally
        {
            _networkLock.Release();
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The pod network does not exist yet (no pod CIDR), or dockerd refused the sandbox.</exception>
    /// <exception cref="ImageNotPresentException">dockerd does not hold the sandbox image.</exception>
    public async Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);

        // One running sandbox per pod, as the simulated runtime keeps it: a retried sync must not leak a second one.
        var existing = (await ListSandboxesAsync(config.Uid, cancellationToken).ConfigureAwait(false)).FirstOrDefault(s => s.Ready);
        if (existing is not null)
        {
            return existing;
        }

        if (await FindNetworkAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            throw new InvalidOperationException($"The pod network {_options.NetworkName} does not exist yet, so pod {config.Namespace}/{config.Name} cannot get an IP: the node has no pod CIDR (UpdateRuntimeConfig) yet.");
        }

        var image = ImageReference.Normalize(_options.SandboxImage);
        if (!await HasImageAsync(image, cancellationToken).ConfigureAwait(false))
        {
            throw new ImageNotPresentException(_options.SandboxImage, image);
        }

        var exposed = new Dictionary<string, EmptyStruct>(StringComparer.Ordinal);
        var bindings = new Dictionary<string, IList<PortBinding>>(StringComparer.Ordinal);
        foreach (var mapping in config.PortMappings)
        {
            var port = $"{mapping.ContainerPort.ToString(CultureInfo.InvariantCulture)}/{mapping.Protocol.ToLowerInvariant()}";
            exposed[port] = default;
            if (!bindings.TryGetValue(port, out var list))
            {
                bindings[port] = list = [];
            }

            list.Add(new PortBinding { HostIP = mapping.HostIp ?? "", HostPort = mapping.HostPort.ToString(CultureInfo.InvariantCulture) });
        }

        var parameters = new CreateContainerParameters
        {
            Name = ContainerName("POD", config, 0),
            Image = image,

            // A hostname is a DNS label: at most 63 characters.
            Hostname = config.Name.Length > 63 ? config.Name[..63] : config.Name,
            Labels = PodLabels(config, "sandbox"),
            ExposedPorts = exposed,
            HostConfig = new HostConfig
            {
                NetworkMode = _options.NetworkName,

                // Its containers join its IPC namespace, which Docker only lends from a "shareable" one.
                IpcMode = "shareable",
                PortBindings = bindings,
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            },
        };
        var what = $"sandbox of pod {config.Namespace}/{config.Name}";
        var created = await CallAsync("container create", cancellationToken, ct => _client.Containers.CreateContainerAsync(parameters, ct), what).ConfigureAwait(false);
        try
        {
            await CallAsync("container start", cancellationToken, ct => _client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct), what).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // A sandbox that cannot start (a taken host port) is of no use: the next sync makes a new one.
            await CallAsync("container remove", cancellationToken, ct => _client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, ct), what, ignoreNotFound: true).ConfigureAwait(false);
            throw;
        }

        var inspected = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(created.ID, ct), what).ConfigureAwait(false);
        var sandbox = ToSandbox(inspected.ID, inspected.Config.Labels, inspected.State.Running, IpOf(inspected.NetworkSettings?.Networks));
        _logger.LogDebug("Sandbox {SandboxId} of pod {Namespace}/{Name} runs with IP {Ip}", sandbox.Id, config.Namespace, config.Name, sandbox.Ip);
        return sandbox;
    }

    /// <inheritdoc />
    /// <remarks>The agent has stopped the containers with their grace periods already: what still runs is killed.</remarks>
    public async Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        foreach (var container in await ListAsync(Labels.SandboxId, sandboxId, cancellationToken).ConfigureAwait(false))
        {
            if (container.State is "running" or "paused" or "restarting")
            {
                await StopContainerAsync(container.ID, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            }
        }

        await StopContainerAsync(sandboxId, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        foreach (var container in await ListAsync(Labels.SandboxId, sandboxId, cancellationToken).ConfigureAwait(false))
        {
            await RemoveContainerAsync(container.ID, cancellationToken).ConfigureAwait(false);
        }

        await RemoveContainerAsync(sandboxId, cancellationToken).ConfigureAwait(false);
    }

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
    public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) =>
        ListSandboxesAsync(null, cancellationToken);

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

    /// <inheritdoc />
    /// <exception cref="TimeoutException">The command ran longer than <paramref name="timeout"/> (dockerd has no way to end an exec: it keeps running).</exception>
    public async Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(command);
        var what = $"container {containerId}";
        var exec = await CallAsync(
            "exec create",
            cancellationToken,
            ct => _client.Exec.ExecCreateContainerAsync(containerId, new ContainerExecCreateParameters { Cmd = command.ToList(), AttachStdout = true, AttachStderr = true }, ct),
            what).ConfigureAwait(false);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        string output;
        try
        {
            using var stream = await _client.Exec.StartAndAttachContainerExecAsync(exec.ID, false, deadline.Token).ConfigureAwait(false);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(deadline.Token).ConfigureAwait(false);
            output = stdout + stderr;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"command [{string.Join(' ', command)}] in container {containerId} timed out after {timeout.TotalSeconds:0.###}s", ex);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, "exec start", what);
        }

        var inspected = await CallAsync("exec inspect", cancellationToken, ct => _client.Exec.InspectContainerExecAsync(exec.ID, ct), what).ConfigureAwait(false);
        return new ExecResult((int)inspected.ExitCode, output);
    }

    /// <inheritdoc />
    public async Task<int> ExecAsync(string containerId, IReadOnlyList<string> command, ContainerStreams streams, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(streams);
        var what = $"container {containerId}";
        var exec = await CallAsync(
            "exec create",
            cancellationToken,
            ct => _client.Exec.ExecCreateContainerAsync(containerId, new ContainerExecCreateParameters
            {
                Cmd = command.ToList(),
                AttachStdin = streams.Stdin is not null,
                AttachStdout = streams.Stdout is not null,
                AttachStderr = streams.Stderr is not null,
                Tty = streams.Tty,
            }, ct),
            what).ConfigureAwait(false);
        MultiplexedStream attached;
        try
        {
            attached = await _client.Exec.StartAndAttachContainerExecAsync(exec.ID, streams.Tty, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, "exec start", what);
        }

        using (attached)
        {
            await PipeAsync(attached, streams, (size, ct) => _client.Exec.ResizeContainerExecTtyAsync(exec.ID, size, ct), cancellationToken).ConfigureAwait(false);
        }

        var inspected = await CallAsync("exec inspect", cancellationToken, ct => _client.Exec.InspectContainerExecAsync(exec.ID, ct), what).ConfigureAwait(false);
        return (int)inspected.ExitCode;
    }

    /// <inheritdoc />
    public async Task<int?> AttachAsync(string containerId, ContainerStreams streams, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(streams);
        var what = $"container {containerId}";
        MultiplexedStream attached;
        try
        {
            var parameters = new ContainerAttachParameters { Stream = true, Stdin = streams.Stdin is not null, Stdout = streams.Stdout is not null, Stderr = streams.Stderr is not null };
            attached = await _client.Containers.AttachContainerAsync(containerId, streams.Tty, parameters, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, "container attach", what);
        }

        using (attached)
        {
            await PipeAsync(attached, streams, (size, ct) => _client.Containers.ResizeContainerTtyAsync(containerId, size, ct), cancellationToken).ConfigureAwait(false);
        }

        var inspected = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(containerId, ct), what, ignoreNotFound: true).ConfigureAwait(false);
        return inspected is { State.Running: false } ? (int)inspected.State.ExitCode : null;
    }

    /// <inheritdoc />
    public async Task<Stream> ConnectToPodAsync(string sandboxId, int port, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        var sandbox = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(sandboxId, ct), $"sandbox {sandboxId}").ConfigureAwait(false);
        var ip = IpOf(sandbox.NetworkSettings?.Networks);
        if (string.IsNullOrEmpty(ip))
        {
            throw new InvalidOperationException($"sandbox {sandboxId} has no IP on network {_options.NetworkName}");
        }

        // kubelet's port-forward dials the port inside the pod's network; the pod IP from dockerd's namespace reaches the same listener.
        var socket = await _prober.ConnectAsync(ip, port, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>
    /// Copies stdin in (closing the process's stdin at its end) and the output out, until the
    /// process's output ends; terminal sizes go to <paramref name="resize"/> as they come.
    /// </summary>
    private static async Task PipeAsync(MultiplexedStream attached, ContainerStreams streams, Func<ContainerResizeParameters, CancellationToken, Task> resize, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var input = streams.Stdin is { } stdin
            ? Task.Run(
                async () =>
                {
                    var buffer = new byte[16 * 1024];
                    int read;
                    while ((read = await stdin.ReadAsync(buffer, stop.Token).ConfigureAwait(false)) > 0)
                    {
                        await attached.WriteAsync(buffer, 0, read, stop.Token).ConfigureAwait(false);
                    }

                    attached.CloseWrite();
                },
                stop.Token)
            : Task.CompletedTask;
        var resizing = streams.Resizes is { } sizes
            ? Task.Run(
                async () =>
                {
                    await foreach (var size in sizes.WithCancellation(stop.Token).ConfigureAwait(false))
                    {
                        await resize(new ContainerResizeParameters { Width = size.Width, Height = size.Height }, stop.Token).ConfigureAwait(false);
                    }
                },
                stop.Token)
            : Task.CompletedTask;

        var output = new byte[16 * 1024];
        while (true)
        {
            var result = await attached.ReadOutputAsync(output, 0, output.Length, cancellationToken).ConfigureAwait(false);
            if (result.EOF)
            {
                break;
            }

            // With a tty everything is one stream, reported as stdout.
            var target = result.Target == MultiplexedStream.TargetStream.StandardError ? streams.Stderr ?? streams.Stdout : streams.Stdout;
            if (target is not null)
            {
                await target.WriteAsync(output.AsMemory(0, result.Count), cancellationToken).ConfigureAwait(false);
            }
        }

        await stop.CancelAsync().ConfigureAwait(false);
        foreach (var pump in new[] { input, resizing })
        {
            try
            {
                await pump.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or DockerApiException or ObjectDisposedException)
            {
                // The process is over: what the user still types or resizes goes nowhere.
            }
        }
    }

    /// <inheritdoc />
    public Task<ProbeResult> ProbeAsync(NetworkProbe probe, TimeSpan timeout, CancellationToken cancellationToken) =>
        _prober.ProbeAsync(probe, timeout, cancellationToken);

    /// <summary>A TCP connection to <paramref name="host"/> made from inside dockerd's network namespace, where pod IPs and host ports are.</summary>
    public Task<Socket> ConnectInNamespaceAsync(string host, int port, CancellationToken cancellationToken) =>
        _prober.ConnectAsync(host, port, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        _client.Dispose();
        _prober.Dispose();
        _networkLock.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task ReadVersionAsync(CancellationToken cancellationToken)
    {
        var version = await CallAsync("version", cancellationToken, ct => _client.System.GetVersionAsync(ct)).ConfigureAwait(false);

        // Debian's build says 20.10.24+dfsg1: the node reports the engine's version, as kubelet did.
        var number = version.Version.Split('+')[0].TrimStart('v');
        _version = $"docker://{number}";
    }

    private async Task<NetworkResponse?> FindNetworkAsync(CancellationToken cancellationToken) =>
        await CallAsync("network inspect", cancellationToken, ct => _client.Networks.InspectNetworkAsync(_options.NetworkName, ct), _options.NetworkName, ignoreNotFound: true).ConfigureAwait(false);

    private async Task<IReadOnlyList<PodSandbox>> ListSandboxesAsync(string? uid, CancellationToken cancellationToken)
    {
        var listed = uid is null
            ? await ListAsync(Labels.Kind, "sandbox", cancellationToken).ConfigureAwait(false)
            : (await ListAsync(Labels.PodUid, uid, cancellationToken).ConfigureAwait(false)).Where(c => Label(c.Labels, Labels.Kind) == "sandbox").ToList();

        // The list carries each container's networks: one call gives every sandbox's IP.
        return listed.Select(c => ToSandbox(c.ID, c.Labels, c.State == "running", IpOf(c.NetworkSettings?.Networks))).ToList();
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

    // The subnet's first address, as CNI's bridge gives it to the bridge.
    private static string Gateway(IPNetwork subnet)
    {
        var bytes = subnet.BaseAddress.GetAddressBytes();
        for (var i = bytes.Length - 1; i >= 0 && ++bytes[i] == 0; i--)
        {
            // Carry into the next byte.
        }

        return new IPAddress(bytes).ToString();
    }

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private string IpOf(IDictionary<string, EndpointSettings>? networks) =>
        networks is not null && networks.TryGetValue(_options.NetworkName, out var endpoint) ? endpoint.IPAddress ?? "" : "";

    private static PodSandbox ToSandbox(string id, IDictionary<string, string> labels, bool running, string ip) =>
        new(id, ToConfig(labels), running ? ip : "", running);

    private static PodSandboxConfig ToConfig(IDictionary<string, string>? labels) =>
        new(Label(labels, Labels.PodNamespace) ?? "", Label(labels, Labels.PodName) ?? "", Label(labels, Labels.PodUid) ?? "");

    private static Dictionary<string, string> PodLabels(PodSandboxConfig pod, string kind) => new(StringComparer.Ordinal)
    {
        [Labels.Kind] = kind,
        [Labels.PodNamespace] = pod.Namespace,
        [Labels.PodName] = pod.Name,
        [Labels.PodUid] = pod.Uid,
    };

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

    private async Task<T> CallAsync<T>(string operation, CancellationToken cancellationToken, Func<CancellationToken, Task<T>> call, string? subject = null, bool ignoreNotFound = false, TimeSpan extra = default)
    {
        using var limit = new CancellationTokenSource(_options.CallTimeout + extra, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            return await call(linked.Token).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ignoreNotFound && ex.StatusCode == HttpStatusCode.NotFound)
        {
            // Stopping or removing what is already gone is done, as kubelet treats it; a look-up finds nothing.
            return default!;
        }
        catch (OperationCanceledException ex) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{Describe(operation, subject)}: dockerd at {_options.SocketPath} did not answer within {_options.CallTimeout + extra}", ex);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, operation, subject);
        }
    }

    private async Task CallAsync(string operation, CancellationToken cancellationToken, Func<CancellationToken, Task> call, string? subject = null, bool ignoreNotFound = false, TimeSpan extra = default) =>
        await CallAsync<bool>(operation, cancellationToken, async ct => { await call(ct).ConfigureAwait(false); return true; }, subject, ignoreNotFound, extra).ConfigureAwait(false);

    // The node agent reports InvalidOperationException and IOException as the container's waiting
    // reason; Docker.DotNet's own exception types would escape it.
    private Exception Translate(Exception ex, string operation, string? subject) => ex switch
    {
        DockerApiException api => new InvalidOperationException($"{Describe(operation, subject)} failed: {Message(api)}", ex),
        _ => new IOException($"{Describe(operation, subject)}: dockerd at {_options.SocketPath} is not answering ({ex.Message})", ex),
    };

    private static string Describe(string operation, string? subject) => subject is null ? $"Docker {operation}" : $"Docker {operation} for {subject}";

    // dockerd answers errors as {"message":"..."}; the message alone is what a user can act on.
    private static string Message(DockerApiException ex)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(ex.ResponseBody);
            if (document.RootElement.TryGetProperty("message", out var message) && message.GetString() is { } text)
            {
                return text;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: the body as it is.
        }

        return ex.ResponseBody.Trim();
    }

    // Docker.DotNet reports a load's messages, errors among them, through a progress callback; this
    // one runs inline, so they are all in once the call returns (System.Progress posts them later).
    private sealed class Progress(Action<JSONMessage> report) : IProgress<JSONMessage>
    {
        public void Report(JSONMessage value) => report(value);
    }

    /// <summary>
    /// The labels this runtime keeps on its containers. Pod identity, container name, attempt,
    /// sandbox and image as the pod named it are what a restarted agent rebuilds its pods from.
    /// </summary>
    internal static class Labels
    {
        public const string Prefix = "io.orchestration.";
        public const string Kind = "io.orchestration.kind";
        public const string PodNamespace = "io.orchestration.pod.namespace";
        public const string PodName = "io.orchestration.pod.name";
        public const string PodUid = "io.orchestration.pod.uid";
        public const string ContainerName = "io.orchestration.container.name";
        public const string Attempt = "io.orchestration.container.attempt";
        public const string SandboxId = "io.orchestration.sandbox-id";
        public const string Image = "io.orchestration.image";
    }
}
