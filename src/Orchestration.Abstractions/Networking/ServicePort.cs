using System.Net;

namespace Orchestration.Networking;

/// <summary>
/// What a proxy programs for one port of a Service: the virtual addresses that lead to it and the
/// endpoints each kind of traffic goes to. Endpoints are chosen already (ready ones, else ready-less
/// but serving terminating ones; traffic policies applied): a proxy only balances over them and
/// refuses the connection when the list is empty.
/// </summary>
/// <param name="Name">The Service port.</param>
/// <param name="Port">The Service's port number (on the cluster IPs, external IPs and load-balancer IPs).</param>
public sealed record ServicePort(ServicePortName Name, int Port)
{
    /// <summary>The Service's cluster IPs.</summary>
    public IReadOnlyList<IPAddress> ClusterIPs { get; init; } = [];

    /// <summary>The node port, on every address of the node, or null.</summary>
    public int? NodePort { get; init; }

    /// <summary>The Service's <c>externalIPs</c>, served on <see cref="Port"/>.</summary>
    public IReadOnlyList<IPAddress> ExternalIPs { get; init; } = [];

    /// <summary>The Service's <c>status.loadBalancer.ingress</c> IPs, served on <see cref="Port"/>.</summary>
    public IReadOnlyList<IPAddress> LoadBalancerIPs { get; init; } = [];

    /// <summary>With <c>sessionAffinity: ClientIP</c>, how long a client stays with the endpoint it reached; null without affinity.</summary>
    public TimeSpan? StickyFor { get; init; }

    /// <summary>Whether <c>externalTrafficPolicy</c> is Local: traffic from outside keeps its source address and goes only to this node's endpoints.</summary>
    public bool ExternalPolicyLocal { get; init; }

    /// <summary>Whether <c>internalTrafficPolicy</c> is Local: traffic to the cluster IPs goes only to this node's endpoints.</summary>
    public bool InternalPolicyLocal { get; init; }

    /// <summary>Where traffic to the cluster IPs goes.</summary>
    public IReadOnlyList<ServiceEndpoint> ClusterEndpoints { get; init; } = [];

    /// <summary>Where traffic to the node port, external IPs and load-balancer IPs goes.</summary>
    public IReadOnlyList<ServiceEndpoint> ExternalEndpoints { get; init; } = [];

    /// <summary>Whether anything arrives from outside the cluster IPs (a node port, external or load-balancer IPs).</summary>
    public bool HasExternalAddresses => NodePort is not null || ExternalIPs.Count > 0 || LoadBalancerIPs.Count > 0;

    /// <inheritdoc />
    public bool Equals(ServicePort? other) =>
        other is not null
        && Name == other.Name
        && Port == other.Port
        && NodePort == other.NodePort
        && StickyFor == other.StickyFor
        && ExternalPolicyLocal == other.ExternalPolicyLocal
        && InternalPolicyLocal == other.InternalPolicyLocal
        && ClusterIPs.SequenceEqual(other.ClusterIPs)
        && ExternalIPs.SequenceEqual(other.ExternalIPs)
        && LoadBalancerIPs.SequenceEqual(other.LoadBalancerIPs)
        && ClusterEndpoints.SequenceEqual(other.ClusterEndpoints)
        && ExternalEndpoints.SequenceEqual(other.ExternalEndpoints);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Name, Port, NodePort, ClusterEndpoints.Count, ExternalEndpoints.Count);
}
