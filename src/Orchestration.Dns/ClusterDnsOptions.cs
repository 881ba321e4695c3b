using System.Net;

namespace Orchestration.Dns;

/// <summary>
/// How the cluster DNS server answers: the cluster domain and record TTL, where it listens, which
/// resolvers it forwards other names to, and the limits that keep it serving under load.
/// </summary>
public sealed class ClusterDnsOptions
{
    /// <summary>The cluster domain the server is authoritative for (the kubelet's <c>clusterDomain</c>). Default <c>cluster.local</c>.</summary>
    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>
    /// The TTL of every record the server answers from the cluster's state, and of its negative
    /// answers (the SOA minimum). Default 30 seconds; whole seconds, up to one day.
    /// </summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The addresses the server answers on, UDP and TCP on each (the <c>kube-dns</c> Service address,
    /// such as 10.96.0.10:53). Port 0 takes a free port, the same for UDP and TCP; the ports taken are
    /// in <see cref="ClusterDnsServer.EndPoints"/> once started.
    /// </summary>
    public IList<IPEndPoint> ListenEndPoints { get; } = [];

    /// <summary>
    /// The resolvers that answer names outside the cluster domain, tried in order (usually the node's
    /// <c>/etc/resolv.conf</c> nameservers, see <see cref="ResolvConf"/>). Empty: such names get SERVFAIL.
    /// </summary>
    public IList<IPEndPoint> Upstreams { get; } = [];

    /// <summary>How long one upstream gets to answer before the next is tried. Default 2 seconds.</summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How many upstream answers the cache holds at most. 0 turns the cache off. Default 10,000.</summary>
    public int CacheSize { get; set; } = 10_000;

    /// <summary>The longest an upstream answer is cached, whatever its TTL says. Default one hour.</summary>
    public TimeSpan MaxCacheTtl { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The Service CIDRs (such as 10.96.0.0/12). Reverse lookups of addresses inside them are answered
    /// here (NXDOMAIN when no Service has the address) instead of going upstream.
    /// </summary>
    public IList<IPNetwork> ServiceCidrs { get; } = [];

    /// <summary>
    /// The pod CIDRs (such as 10.244.0.0/16). Reverse lookups of addresses inside them are answered
    /// here (NXDOMAIN unless a headless Service's endpoint has the address) instead of going upstream.
    /// </summary>
    public IList<IPNetwork> PodCidrs { get; } = [];

    /// <summary>
    /// Answers <c>a-b-c-d.&lt;namespace&gt;.pod.&lt;domain&gt;</c> with the address in the name, without
    /// checking that such a pod exists (CoreDNS's "pods insecure" mode). Default true.
    /// </summary>
    public bool PodRecords { get; set; } = true;

    /// <summary>How many receives wait on each UDP socket at once. Default: the processor count, at least 2.</summary>
    public int UdpReceivers { get; set; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>
    /// The largest UDP answer sent to a client that advertises a bigger EDNS buffer; larger answers are
    /// truncated (TC) so the client retries over TCP. Clients without EDNS get 512 bytes. Default 1232
    /// (the DNS flag day 2020 size, which avoids IP fragmentation).
    /// </summary>
    public int MaxUdpPayloadSize { get; set; } = 1232;

    /// <summary>How many TCP connections are served at once; one more is closed at once. Default 256.</summary>
    public int MaxTcpConnections { get; set; } = 256;

    /// <summary>How long a TCP connection may wait between queries before it is closed. Default 10 seconds.</summary>
    public TimeSpan TcpIdleTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
