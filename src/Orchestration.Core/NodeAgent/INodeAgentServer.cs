using System.Net;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// The node agent's own server (kubelet's port 10250: logs, exec, attach, port-forward), which the
/// API server reaches at the address and port the Node reports. Optional: a worker without one
/// runs pods, but <c>kubectl logs</c> and <c>exec</c> cannot reach them.
/// </summary>
public interface INodeAgentServer
{
    /// <summary>Starts serving the node whose runtime is <paramref name="runtime"/>; returns where it listens.</summary>
    Task<IPEndPoint> StartAsync(INodeRuntime runtime, CancellationToken cancellationToken);

    /// <summary>Stops serving; open streams end.</summary>
    Task StopAsync(CancellationToken cancellationToken);
}
