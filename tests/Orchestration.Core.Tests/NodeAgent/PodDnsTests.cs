using k8s.Models;
using Orchestration.NodeAgent;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>A pod's resolv.conf from its dnsPolicy, as kubelet writes it.</summary>
[Trait("Category", "Unit")]
public sealed class PodDnsTests
{
    private readonly NodeAgentOptions _options = new() { ClusterDomain = "cluster.local" };

    public PodDnsTests() => _options.ClusterDns.Add("10.96.0.10");

    [Fact]
    public void ClusterFirst_gives_the_cluster_dns_the_namespace_search_list_the_nodes_searches_and_ndots_5()
    {
        var dns = PodDns.For(Pod("shop"), _options, ["corp.example"])!;

        dns.Servers.Should().Equal("10.96.0.10");
        dns.Searches.Should().Equal("shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example");
        dns.Options.Should().Equal("ndots:5");
    }

    [Fact]
    public void Default_and_clusterfirst_on_the_host_network_leave_the_nodes_file()
    {
        PodDns.For(Pod("shop", "Default"), _options, []).Should().BeNull();
        var host = Pod("shop");
        host.Spec.HostNetwork = true;
        PodDns.For(host, _options, []).Should().BeNull("ClusterFirst acts as Default on the host network");
        host.Spec.DnsPolicy = "ClusterFirstWithHostNet";
        PodDns.For(host, _options, [])!.Servers.Should().Equal("10.96.0.10");
    }

    [Fact]
    public void None_takes_only_dns_config_and_dns_config_adds_to_and_overrides_the_policy()
    {
        var none = Pod("shop", "None");
        none.Spec.DnsConfig = new V1PodDNSConfig { Nameservers = ["192.0.2.53"], Searches = ["my.dns.search"], Options = [new V1PodDNSConfigOption { Name = "edns0" }] };
        var dns = PodDns.For(none, _options, ["corp.example"])!;
        (dns.Servers, dns.Searches, dns.Options).Should().BeEquivalentTo((new[] { "192.0.2.53" }, new[] { "my.dns.search" }, new[] { "edns0" }));

        var cluster = Pod("shop");
        cluster.Spec.DnsConfig = new V1PodDNSConfig { Nameservers = ["192.0.2.53"], Options = [new V1PodDNSConfigOption { Name = "ndots", Value = "2" }] };
        var merged = PodDns.For(cluster, _options, [])!;
        merged.Servers.Should().Equal("10.96.0.10", "192.0.2.53");
        merged.Options.Should().Equal("ndots:2");
    }

    [Fact]
    public void Without_a_cluster_dns_clusterfirst_falls_back_to_the_nodes_file()
    {
        PodDns.For(Pod("shop"), new NodeAgentOptions(), []).Should().BeNull();
    }

    private static V1Pod Pod(string ns, string? policy = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = ns },
        Spec = new V1PodSpec { DnsPolicy = policy, Containers = [new V1Container { Name = "c", Image = "busybox" }] },
    };
}
