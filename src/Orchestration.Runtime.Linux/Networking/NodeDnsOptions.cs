namespace Orchestration.Runtime.Linux.Networking;

/// <summary>Where a node's cluster DNS server forwards names outside the cluster.</summary>
public sealed class NodeDnsOptions
{
    /// <summary>
    /// The resolv.conf whose name servers answer names outside the cluster domain when no upstream is
    /// configured (the node's own, as CoreDNS's <c>forward . /etc/resolv.conf</c>); null forwards nowhere
    /// (such names get SERVFAIL).
    /// </summary>
    public string? ResolvConf { get; set; } = "/etc/resolv.conf";
}
