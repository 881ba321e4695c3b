namespace Orchestration.Runtime.Containerd;

/// <summary>How <see cref="ContainerdRuntime"/> reaches containerd.</summary>
public sealed class ContainerdRuntimeOptions
{
    /// <summary>containerd's gRPC unix socket (its <c>[grpc] address</c>).</summary>
    public string SocketPath { get; set; } = "/run/containerd/containerd.sock";

    /// <summary>
    /// The network namespace containerd (and so every pod) runs in, as a path
    /// (<c>/var/run/netns/NAME</c>), or null when it shares the node's. Network probes connect from
    /// inside it, since pod IPs are only routable there.
    /// </summary>
    public string? NetworkNamespacePath { get; set; }

    /// <summary>
    /// Where containers' logs go (a directory per pod, as kubelet's <c>/var/log/pods</c>), or null
    /// to keep no logs.
    /// </summary>
    public string? PodLogDirectory { get; set; }

    /// <summary>How long one CRI call may take before it fails (ExecSync gets its own timeout on top).</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromMinutes(2);
}
