namespace Orchestration.Hosting;

/// <summary>What the bootstrap of a new cluster needs to know.</summary>
public sealed class ClusterBootstrapOptions
{
    /// <summary>The API server's port: the target port of the <c>kubernetes</c> Service (set by the API server's registration).</summary>
    public int ApiServerPort { get; set; } = 6443;

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
