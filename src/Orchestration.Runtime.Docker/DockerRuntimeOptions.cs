namespace Orchestration.Runtime.Docker;

/// <summary>How <see cref="DockerRuntime"/> reaches dockerd, and what it names its pod network and sandboxes.</summary>
public sealed class DockerRuntimeOptions
{
    /// <summary>dockerd's API unix socket (its <c>-H unix://...</c>).</summary>
    public string SocketPath { get; set; } = "/var/run/docker.sock";

    /// <summary>
    /// The network namespace dockerd (and so every pod) runs in, as a path
    /// (<c>/var/run/netns/NAME</c>), or null when it shares the node's. Network probes connect from
    /// inside it, since pod IPs are only routable there.
    /// </summary>
    public string? NetworkNamespacePath { get; set; }

    /// <summary>The Docker network the sandboxes join; <see cref="DockerRuntime.UpdateRuntimeConfigAsync"/> creates it with the node's pod CIDR.</summary>
    public string NetworkName { get; set; } = "orchestration-pods";

    /// <summary>The Linux bridge of that network (a name of at most 15 characters), inside dockerd's namespace.</summary>
    public string BridgeName { get; set; } = "orch0";

    /// <summary>
    /// The image of pod sandboxes, which hold the pod's network and IPC namespaces: its process must
    /// keep running (scripts/build-images.sh builds it).
    /// </summary>
    public string SandboxImage { get; set; } = "orchestration.local/sandbox:1";

    /// <summary>How long one Engine API call may take before it fails (a stop gets its grace period on top).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
