namespace Orchestration.Runtime;

/// <summary>
/// A node's container runtime, shaped like the CRI: a pod is a sandbox (its network namespace and
/// IP) holding containers. The node agent drives it; containerd, Docker and the simulated runtime
/// implement it.
/// </summary>
public interface INodeRuntime
{
    /// <summary>The runtime's name and version, as the Node reports it (<c>containerd://1.6.20</c>).</summary>
    string Version { get; }

    /// <summary>Tells the runtime the node's pod CIDR, which sandbox IPs come from (CRI's UpdateRuntimeConfig).</summary>
    Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken);

    /// <summary>Creates and starts a pod's sandbox; returns its id and IP.</summary>
    Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken);

    /// <summary>Stops a sandbox and every container in it.</summary>
    Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>Removes a stopped sandbox and its containers.</summary>
    Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken);

    /// <summary>Creates a container in a sandbox; returns its id.</summary>
    Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken);

    /// <summary>Starts a created container.</summary>
    Task StartContainerAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>Stops a container: a polite signal, then a kill after the grace period.</summary>
    Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken);

    /// <summary>Removes a stopped container.</summary>
    Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken);

    /// <summary>The sandboxes the runtime holds (to adopt them after an agent restart).</summary>
    Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken);

    /// <summary>The containers of one sandbox, or of all when null.</summary>
    Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken);

    /// <summary>
    /// Runs a command in a running container and waits for it (CRI's ExecSync): exec probes use it.
    /// A command that outlives <paramref name="timeout"/> throws <see cref="TimeoutException"/>.
    /// </summary>
    Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>What a command run in a container returned.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="Output">Its standard output and error, as far as the caller needs them (probe messages).</param>
public sealed record ExecResult(int ExitCode, string Output);

/// <summary>What a pod's sandbox is for.</summary>
/// <param name="Namespace">The pod's namespace.</param>
/// <param name="Name">The pod's name.</param>
/// <param name="Uid">The pod's uid: sandboxes are matched to pods by it.</param>
public sealed record PodSandboxConfig(string Namespace, string Name, string Uid)
{
    /// <summary>The pod's host ports (CRI's port_mappings): the runtime's network exposes each on the node.</summary>
    public IReadOnlyList<PortMapping> PortMappings { get; init; } = [];

    /// <summary>The pod's resolv.conf (CRI's dns_config), from its <c>dnsPolicy</c>; null leaves the runtime's default (the node's own resolv.conf).</summary>
    public PodDnsConfig? Dns { get; init; }
}

/// <summary>What a pod's resolv.conf says (CRI's DNSConfig).</summary>
/// <param name="Servers">The name servers, in order.</param>
/// <param name="Searches">The search domains, in order.</param>
/// <param name="Options">The resolver options (<c>ndots:5</c>).</param>
public sealed record PodDnsConfig(IReadOnlyList<string> Servers, IReadOnlyList<string> Searches, IReadOnlyList<string> Options);

/// <summary>A pod sandbox.</summary>
/// <param name="Id">The runtime's id.</param>
/// <param name="Config">What it was created for.</param>
/// <param name="Ip">The pod's IP.</param>
/// <param name="Ready">Whether it still runs.</param>
public sealed record PodSandbox(string Id, PodSandboxConfig Config, string Ip, bool Ready);

/// <summary>What a container runs.</summary>
/// <param name="Name">The container's name in the pod.</param>
/// <param name="Image">The image.</param>
/// <param name="Command">The entrypoint, or empty for the image's.</param>
/// <param name="Args">The arguments.</param>
/// <param name="Environment">Environment variables.</param>
/// <param name="Attempt">
/// How many times this container of the pod was started before (CRI's ContainerMetadata.attempt): the
/// pod's restart count, kept by the runtime so a restarted node agent does not reset it.
/// </param>
/// <param name="Labels">Labels the runtime keeps with the container and reports back (CRI's container labels).</param>
public sealed record ContainerConfig(string Name, string Image, IReadOnlyList<string> Command, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string> Environment, int Attempt = 0, IReadOnlyDictionary<string, string>? Labels = null)
{
    /// <summary>The directory the process starts in (CRI's working_dir), or null for the image's.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Node paths bound into the container (CRI's mounts): the pod's volumes.</summary>
    public IReadOnlyList<ContainerMount> Mounts { get; init; } = [];

    /// <summary>The cgroup limits of the container (CRI's linux resources), or null for none.</summary>
    public ContainerResources? Resources { get; init; }
}

/// <summary>The state of a container, as the CRI reports it.</summary>
public enum ContainerState
{
    /// <summary>Created, not started.</summary>
    Created,

    /// <summary>Running.</summary>
    Running,

    /// <summary>Exited (see the exit code and reason).</summary>
    Exited,
}

/// <summary>A container's status.</summary>
/// <param name="Id">The runtime's id.</param>
/// <param name="SandboxId">Its sandbox.</param>
/// <param name="Name">The container's name in the pod.</param>
/// <param name="Image">Its image.</param>
/// <param name="State">Created, running or exited.</param>
/// <param name="StartedAt">When it started, if it did.</param>
/// <param name="FinishedAt">When it exited, if it did.</param>
/// <param name="ExitCode">Its exit code, once exited.</param>
/// <param name="Reason">Why it exited (<c>Completed</c>, <c>Error</c>, <c>OOMKilled</c>).</param>
/// <param name="Attempt">The attempt it was created as (see <see cref="ContainerConfig.Attempt"/>).</param>
/// <param name="Labels">The labels it was created with.</param>
/// <param name="CreatedAt">When it was created: orders the attempts of one container.</param>
public sealed record ContainerStatus(string Id, string SandboxId, string Name, string Image, ContainerState State, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, int? ExitCode, string? Reason, int Attempt = 0, IReadOnlyDictionary<string, string>? Labels = null, DateTimeOffset? CreatedAt = null)
{
    /// <summary>
    /// The file the runtime writes the container's output to, in the CRI log format
    /// (<c>2016-10-06T00:17:09.669794202Z stdout F text</c>, one line each), or null when it keeps none.
    /// </summary>
    public string? LogPath { get; init; }
}
