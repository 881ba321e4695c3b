namespace Orchestration.Runtime.Linux.Networking;

/// <summary>How the nftables network proxy programs its node.</summary>
public sealed class NftablesProxyOptions
{
    /// <summary>
    /// The name of the proxy's main nftables table (family <c>ip</c>), and the prefix of its shard
    /// tables (<c>NAME-0</c>, <c>NAME-1</c>, ...), which hold the Service ports. The proxy owns every
    /// table named <c>NAME</c> or <c>NAME-</c>number, replaces them at its first sync and deletes
    /// them at clean-up; nothing else in the namespace is touched.
    /// </summary>
    public string TableName { get; set; } = "orch-proxy";

    /// <summary>
    /// The cluster's pod CIDR (kube-proxy's <c>--cluster-cidr</c>): traffic to a cluster IP from outside
    /// it is masqueraded so that its replies come back through the node. Null masquerades none of it.
    /// </summary>
    public string? ClusterCidr { get; set; }

    /// <summary>nftables' library (Debian's libnftables1, installed with nftables), by name or path.</summary>
    public string LibraryPath { get; set; } = "libnftables.so.1";

    /// <summary>The network namespace to program (<c>/var/run/netns/NAME</c>); null takes the node's (<see cref="INodeNetworkNamespace"/>), or this process's own when there is none.</summary>
    public string? NetworkNamespacePath { get; set; }
}
