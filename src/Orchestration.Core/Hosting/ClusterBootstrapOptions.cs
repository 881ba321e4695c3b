namespace Orchestration.Hosting;

/// <summary>What the bootstrap of a new cluster needs to know.</summary>
public sealed class ClusterBootstrapOptions
{
    /// <summary>
    /// The address at which every node relays its pods' connections to the API server (beside the
    /// node-local DNS address): the endpoint of the <c>kubernetes</c> Service, so a pod's client
    /// reaches the API through its own node, whatever the masters' addresses.
    /// </summary>
    public string NodeLocalApiAddress { get; set; } = "169.254.20.11";

    /// <summary>The port of <see cref="NodeLocalApiAddress"/>, the <c>kubernetes</c> Service's target port.</summary>
    public int NodeLocalApiPort { get; set; } = 443;

    /// <summary>
    /// Whether the cluster has a cluster DNS: the <c>kube-dns</c> Service in kube-system at the service
    /// network's tenth address, whose endpoint is <see cref="NodeLocalDnsAddress"/> on every node.
    /// </summary>
    public bool ClusterDns { get; set; } = true;

    /// <summary>
    /// The address each node's DNS server listens on inside the node (NodeLocal DNSCache's link-local
    /// 169.254.20.10): the <c>kube-dns</c> Service's endpoint, so a query to the Service's address is
    /// answered by the node it was sent from.
    /// </summary>
    public string NodeLocalDnsAddress { get; set; } = "169.254.20.10";
}
