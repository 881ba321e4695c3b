using System.Net;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>How a node's pods reach the API server (<see cref="NodeApiRelay"/>).</summary>
public sealed class NodeApiRelayOptions
{
    /// <summary>
    /// Where the relay listens inside the node: the endpoint of the <c>kubernetes</c> Service that
    /// the cluster bootstrap writes (<c>169.254.20.11:443</c>, beside the node-local DNS address).
    /// </summary>
    public IPEndPoint ListenEndPoint { get; set; } = new(IPAddress.Parse("169.254.20.11"), 443);

    /// <summary>The API servers (or their load balancer) the relay connects to, tried in order; none runs no relay.</summary>
    public IList<DnsEndPoint> Upstreams { get; } = [];

    /// <summary>How long a connection to one upstream may take before the next is tried.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
