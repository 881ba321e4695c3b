using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux;
using Cri = Orchestration.Runtime.Containerd.Cri;

namespace Orchestration.Runtime.Containerd;

/// <summary>
/// <see cref="INodeRuntime"/> over containerd's CRI plugin (CRI v1 gRPC on its unix socket): a pod
/// is a CRI pod sandbox (with its own network namespace and IP from the CNI bridge), its containers
/// CRI containers. Images are only taken from what containerd holds; a missing one is an
/// <see cref="ImageNotPresentException"/>. Network probes connect from inside containerd's network
/// namespace (see <see cref="ContainerdRuntimeOptions.NetworkNamespacePath"/>).
/// </summary>
public sealed class ContainerdRuntime : INodeRuntime, IRuntimeConnection, IStreamingRuntime, INetworkProber, IRuntimeConditions, IAsyncDisposable, IDisposable
{
    /// <summary>The annotation that keeps the image as the pod named it, which is what the status reports.</summary>
    private const string ImageAnnotation = "io.orchestration.image";

    /// <summary>The annotation that keeps the container's sandbox id, which CRI's container status leaves out.</summary>
    private const string SandboxAnnotation = "io.orchestration.sandbox-id";

    private readonly ContainerdRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GrpcChannel _channel;
    private readonly Cri.RuntimeService.RuntimeServiceClient _runtime;
    private readonly Cri.ImageService.ImageServiceClient _images;
    private readonly NamespacedNetworkProber _prober;

    // Statuses of running and exited containers only change by leaving that state, so the 1 s relist
    // asks containerd for one list and fetches a status only for containers whose state moved.
    private readonly ConcurrentDictionary<string, ContainerStatus> _statuses = new(StringComparer.Ordinal);

    // A sandbox keeps its IP for life: remembered, so that a list is one CRI call, not one per sandbox.
    private readonly ConcurrentDictionary<string, string> _sandboxIps = new(StringComparer.Ordinal);
    private const string UnknownVersion = "containerd://unknown";

    /// <summary>How many sandbox attempts of one pod are tried when containerd holds the names of earlier ones.</summary>
    private const uint MaxSandboxAttempts = 10;
    private string _version = UnknownVersion;

    /// <summary>Creates a client of the containerd at <see cref="ContainerdRuntimeOptions.SocketPath"/>; it connects on first use.</summary>
    public ContainerdRuntime(IOptions<ContainerdRuntimeOptions> options, TimeProvider? timeProvider = null, ILogger<ContainerdRuntime>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var socketPath = _options.SocketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };

        // The authority is never resolved: every connection goes to the unix socket above.
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        _runtime = new Cri.RuntimeService.RuntimeServiceClient(_channel);
        _images = new Cri.ImageService.ImageServiceClient(_channel);
        _prober = new NamespacedNetworkProber(_options.NetworkNamespacePath);
    }

    /// <summary>The runtime's name and version as the CRI reports them (<c>containerd://1.6.20</c>), once <see cref="ConnectAsync"/> ran.</summary>
    public string Version => _version;

    /// <summary>
    /// Asks containerd for its version and whether its runtime is ready, retrying until it answers
    /// or <paramref name="timeout"/> passes.
    /// </summary>
    /// <exception cref="IOException">containerd did not answer on its socket in time.</exception>
    public async Task ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            try
            {
                var version = await _runtime.VersionAsync(new Cri.VersionRequest { Version = "v1" }, Options(cancellationToken)).ResponseAsync.ConfigureAwait(false);
                _version = $"{version.RuntimeName}://{version.RuntimeVersion.TrimStart('v')}";
                _logger.LogInformation("Connected to {Runtime} (CRI {ApiVersion}) at {Socket}", _version, version.RuntimeApiVersion, _options.SocketPath);
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && _time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                throw new IOException($"containerd at {_options.SocketPath} did not answer CRI Version within {timeout}: {ex.Status.Detail}. Is it running, with the CRI plugin enabled?", ex);
            }
        }
    }

    /// <summary>
    /// The runtime's conditions (RuntimeReady, NetworkReady) as CRI <c>Status</c> reports them; a
    /// containerd that was not answering when <see cref="ConnectAsync"/> ran gives its version here.
    /// </summary>
    /// <exception cref="IOException">containerd does not answer on its socket.</exception>
    public async Task<IReadOnlyList<RuntimeCondition>> GetConditionsAsync(CancellationToken cancellationToken)
    {
        var response = await CallAsync("Status", () => _runtime.StatusAsync(new Cri.StatusRequest(), Options(cancellationToken))).ConfigureAwait(false);
        if (_version == UnknownVersion)
        {
            var version = await CallAsync("Version", () => _runtime.VersionAsync(new Cri.VersionRequest { Version = "v1" }, Options(cancellationToken))).ConfigureAwait(false);
            _version = $"{version.RuntimeName}://{version.RuntimeVersion.TrimStart('v')}";
        }

        return response.Status.Conditions.Select(c => new RuntimeCondition(c.Type, c.Status, c.Reason, c.Message)).ToList();
    }

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
    /// <remarks>
    /// containerd renders its CNI config from the CIDR when its config has a <c>conf_template</c>
    /// (as <see cref="ContainerdHost"/> writes it); until then it cannot give sandboxes an IP.
    /// </remarks>
    public async Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(podCidr);
        var request = new Cri.UpdateRuntimeConfigRequest { RuntimeConfig = new Cri.RuntimeConfig { NetworkConfig = new Cri.NetworkConfig { PodCidr = podCidr } } };
        await CallAsync("UpdateRuntimeConfig", () => _runtime.UpdateRuntimeConfigAsync(request, Options(cancellationToken))).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);

        // One ready sandbox per pod, as the simulated runtime keeps it: a retried sync must not leak a second one.
        var existing = await ListSandboxesAsync(new Cri.PodSandboxFilter
        {
            State = new Cri.PodSandboxStateValue { State = Cri.PodSandboxState.SandboxReady },
            LabelSelector = { [PodLabels.Uid] = config.Uid },
        }, cancellationToken).ConfigureAwait(false);
        if (existing.Count > 0)
        {
            return existing[0];
        }

        // containerd keeps a sandbox's name (pod, namespace, uid, attempt) reserved after a failed
        // start or for a dead sandbox not yet removed; kubelet counts the attempt up for a new one.
        Cri.RunPodSandboxResponse response;
        for (var attempt = 0u; ; attempt++)
        {
            var request = new Cri.RunPodSandboxRequest { Config = SandboxConfig(config, attempt) };
            try
            {
                response = await CallAsync("RunPodSandbox", () => _runtime.RunPodSandboxAsync(request, Options(cancellationToken)), $"pod {config.Namespace}/{config.Name}").ConfigureAwait(false);
                break;
            }
            catch (InvalidOperationException ex) when (attempt < MaxSandboxAttempts && ex.Message.Contains("failed to reserve sandbox name", StringComparison.Ordinal))
            {
                _logger.LogDebug("Sandbox name of pod {Namespace}/{Name} at attempt {Attempt} is taken; trying the next attempt", config.Namespace, config.Name, attempt);
            }
        }

        var status = await SandboxStatusAsync(response.PodSandboxId, cancellationToken).ConfigureAwait(false);
        _logger.LogDebug("Sandbox {SandboxId} of pod {Namespace}/{Name} runs with IP {Ip}", response.PodSandboxId, config.Namespace, config.Name, status.Ip);
        return status;
    }

    /// <inheritdoc />
    public async Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        await CallAsync("StopPodSandbox", () => _runtime.StopPodSandboxAsync(new Cri.StopPodSandboxRequest { PodSandboxId = sandboxId }, Options(cancellationToken)), $"sandbox {sandboxId}", ignoreNotFound: true).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        await CallAsync("RemovePodSandbox", () => _runtime.RemovePodSandboxAsync(new Cri.RemovePodSandboxRequest { PodSandboxId = sandboxId }, Options(cancellationToken)), $"sandbox {sandboxId}", ignoreNotFound: true).ConfigureAwait(false);
        _sandboxIps.TryRemove(sandboxId, out _);
        foreach (var status in _statuses.Values.Where(s => s.SandboxId == sandboxId))
        {
            _statuses.TryRemove(status.Id, out _);
        }
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
    public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) =>
        ListSandboxesAsync(null, cancellationToken);

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

    /// <inheritdoc />
    /// <exception cref="TimeoutException">The command ran longer than <paramref name="timeout"/>.</exception>
    public async Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(command);
        var seconds = (long)Math.Ceiling(Math.Max(1, timeout.TotalSeconds));
        var request = new Cri.ExecSyncRequest { ContainerId = containerId, Cmd = { command }, Timeout = seconds };
        Cri.ExecSyncResponse response;
        try
        {
            // containerd enforces the timeout itself; the deadline is a backstop a few seconds later.
            response = await _runtime.ExecSyncAsync(request, new CallOptions(deadline: Deadline(TimeSpan.FromSeconds(seconds + 5)), cancellationToken: cancellationToken)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded || ex.Status.Detail.Contains("timeout", StringComparison.OrdinalIgnoreCase))
        {
            throw new TimeoutException($"command [{string.Join(' ', command)}] in container {containerId} timed out after {seconds}s", ex);
        }
        catch (RpcException ex)
        {
            throw Translate(ex, "ExecSync", $"container {containerId}");
        }

        var output = Encoding.UTF8.GetString(response.Stdout.Span) + Encoding.UTF8.GetString(response.Stderr.Span);
        return new ExecResult(response.ExitCode, output);
    }

    /// <inheritdoc />
    public async Task<Uri> ExecAsync(string containerId, StreamingOptions options, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(command);
        var request = new Cri.ExecRequest { ContainerId = containerId, Cmd = { command }, Stdin = options.Stdin, Stdout = options.Stdout, Stderr = options.Stderr && !options.Tty, Tty = options.Tty };
        var response = await CallAsync("Exec", () => _runtime.ExecAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        return new Uri(response.Url);
    }

    /// <inheritdoc />
    public async Task<Uri> AttachAsync(string containerId, StreamingOptions options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(options);
        var request = new Cri.AttachRequest { ContainerId = containerId, Stdin = options.Stdin, Stdout = options.Stdout, Stderr = options.Stderr && !options.Tty, Tty = options.Tty };
        var response = await CallAsync("Attach", () => _runtime.AttachAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        return new Uri(response.Url);
    }

    /// <inheritdoc />
    public async Task<Uri> PortForwardAsync(string sandboxId, IReadOnlyList<int> ports, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(ports);
        var request = new Cri.PortForwardRequest { PodSandboxId = sandboxId, Port = { ports } };
        var response = await CallAsync("PortForward", () => _runtime.PortForwardAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        return new Uri(response.Url);
    }

    /// <inheritdoc />
    public async Task<Stream> OpenStreamAsync(Uri url, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);

        // containerd's streaming server listens on 127.0.0.1 inside its network namespace: the socket must be made there.
        var socket = await _prober.ConnectAsync(url.Host, url.Port, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <inheritdoc />
    public Task<ProbeResult> ProbeAsync(NetworkProbe probe, TimeSpan timeout, CancellationToken cancellationToken) =>
        _prober.ProbeAsync(probe, timeout, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        _channel.Dispose();
        _prober.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private Cri.PodSandboxConfig SandboxConfig(PodSandboxConfig config, uint attempt)
    {
        var sandbox = new Cri.PodSandboxConfig
        {
            Metadata = new Cri.PodSandboxMetadata { Name = config.Name, Namespace = config.Namespace, Uid = config.Uid, Attempt = attempt },

            // A hostname is a DNS label: at most 63 characters.
            Hostname = config.Name.Length > 63 ? config.Name[..63] : config.Name,
            Labels =
            {
                [PodLabels.Name] = config.Name,
                [PodLabels.Namespace] = config.Namespace,
                [PodLabels.Uid] = config.Uid,
            },
            Linux = new Cri.LinuxPodSandboxConfig(),

            // containerd hands these to the CNI portmap plugin (the host's CNI config asks for portMappings).
            PortMappings = { config.PortMappings.Select(p => new Cri.PortMapping { Protocol = Protocol(p.Protocol), ContainerPort = p.ContainerPort, HostPort = p.HostPort, HostIp = p.HostIp ?? "" }) },
        };
        if (_options.PodLogDirectory is { } logs)
        {
            sandbox.LogDirectory = Path.Combine(logs, $"{config.Namespace}_{config.Name}_{config.Uid}");
        }

        return sandbox;
    }

    private static Cri.Protocol Protocol(string protocol) => protocol.ToUpperInvariant() switch
    {
        "UDP" => Cri.Protocol.Udp,
        "SCTP" => Cri.Protocol.Sctp,
        _ => Cri.Protocol.Tcp,
    };

    private async Task<PodSandbox> SandboxStatusAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var response = await CallAsync("PodSandboxStatus", () => _runtime.PodSandboxStatusAsync(new Cri.PodSandboxStatusRequest { PodSandboxId = sandboxId }, Options(cancellationToken)), $"sandbox {sandboxId}").ConfigureAwait(false);
        var status = response.Status;
        var ready = status.State == Cri.PodSandboxState.SandboxReady;
        if (ready && !string.IsNullOrEmpty(status.Network?.Ip))
        {
            _sandboxIps[status.Id] = status.Network.Ip;
        }

        return new PodSandbox(status.Id, ToConfig(status.Metadata), status.Network?.Ip ?? "", ready);
    }

    private async Task<IReadOnlyList<PodSandbox>> ListSandboxesAsync(Cri.PodSandboxFilter? filter, CancellationToken cancellationToken)
    {
        var request = new Cri.ListPodSandboxRequest { Filter = filter };
        var response = await CallAsync("ListPodSandbox", () => _runtime.ListPodSandboxAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        var list = new List<PodSandbox>(response.Items.Count);
        foreach (var item in response.Items)
        {
            // The list carries no IP; ready sandboxes need theirs (the agent reports it as podIP).
            var ip = "";
            if (item.State == Cri.PodSandboxState.SandboxReady && !_sandboxIps.TryGetValue(item.Id, out ip!))
            {
                try
                {
                    ip = (await SandboxStatusAsync(item.Id, cancellationToken).ConfigureAwait(false)).Ip;
                }
                catch (InvalidOperationException)
                {
                    continue; // removed since the list
                }
            }

            list.Add(new PodSandbox(item.Id, ToConfig(item.Metadata), ip ?? "", item.State == Cri.PodSandboxState.SandboxReady));
        }

        if (filter is null)
        {
            var present = response.Items.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _sandboxIps.Keys.Where(id => !present.Contains(id)))
            {
                _sandboxIps.TryRemove(gone, out _);
            }
        }

        return list;
    }

    private async Task<bool> ExistsAsync(string containerId, CancellationToken cancellationToken)
    {
        var listed = await CallAsync("ListContainers", () => _runtime.ListContainersAsync(new Cri.ListContainersRequest { Filter = new Cri.ContainerFilter { Id = containerId } }, Options(cancellationToken))).ConfigureAwait(false);
        return listed.Containers.Count > 0;
    }

    private static PodSandboxConfig ToConfig(Cri.PodSandboxMetadata? metadata) =>
        new(metadata?.Namespace ?? "", metadata?.Name ?? "", metadata?.Uid ?? "");

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

    private CallOptions Options(CancellationToken cancellationToken, TimeSpan extra = default) =>
        new(deadline: Deadline(_options.CallTimeout + extra), cancellationToken: cancellationToken);

    private DateTime Deadline(TimeSpan after) => _time.GetUtcNow().UtcDateTime + after;

    private async Task<T> CallAsync<T>(string method, Func<AsyncUnaryCall<T>> call, string? subject = null, bool ignoreNotFound = false)
        where T : new()
    {
        try
        {
            return await call().ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex) when (ignoreNotFound && (ex.StatusCode == StatusCode.NotFound || ex.Status.Detail.Contains("not found", StringComparison.OrdinalIgnoreCase)))
        {
            // Stopping or removing what is already gone is done, as kubelet treats it.
            return new T();
        }
        catch (RpcException ex)
        {
            throw Translate(ex, method, subject);
        }
    }

    // The node agent reports InvalidOperationException and IOException as the container's waiting
    // reason; gRPC's own exception type would escape it.
    private Exception Translate(RpcException ex, string method, string? subject)
    {
        var what = subject is null ? $"CRI {method}" : $"CRI {method} for {subject}";
        if (ex.StatusCode == StatusCode.Unavailable)
        {
            return new IOException($"{what}: containerd at {_options.SocketPath} is not answering ({ex.Status.Detail})", ex);
        }

        if (ex.StatusCode == StatusCode.Cancelled)
        {
            return new OperationCanceledException($"{what} was cancelled", ex);
        }

        return new InvalidOperationException($"{what} failed: {ex.Status.Detail}", ex);
    }

    /// <summary>The labels kubelet puts on sandboxes, which the list is filtered by.</summary>
    private static class PodLabels
    {
        public const string Name = "io.kubernetes.pod.name";
        public const string Namespace = "io.kubernetes.pod.namespace";
        public const string Uid = "io.kubernetes.pod.uid";
    }
}
