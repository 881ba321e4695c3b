namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// The network namespace a node's pods live in, which its network proxy and cluster DNS program and
/// listen in: the namespace of the node's own containerd or dockerd. Runtimes that run a daemon of
/// their own provide it; known once that daemon has started.
/// </summary>
public interface INodeNetworkNamespace
{
    /// <summary>The namespace as a path (<c>/var/run/netns/NAME</c>), or null when the pods share this process's namespace.</summary>
    string? NetworkNamespacePath { get; }
}
