using System.Net;

namespace Orchestration.NodeAgent.Server;

/// <summary>Where a node agent serves logs, exec, attach and port-forward (kubelet's port 10250).</summary>
public sealed class NodeAgentServerOptions
{
    /// <summary>
    /// The address to listen on, which the Node reports as its InternalIP. Loopback by default: the
    /// server has no authentication of its own yet, so it must only be reachable by the API server.
    /// </summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>The port; 0 picks a free one, which the Node reports in <c>status.daemonEndpoints</c>.</summary>
    public int Port { get; set; }
}
