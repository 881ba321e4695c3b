using System.Net;
using k8s.Models;
using Orchestration.Controllers.Network;
using Orchestration.Networking;

namespace Orchestration.Core.Tests.Networking;

/// <summary>The desired service table: what every proxy implementation is given.</summary>
[Trait("Category", "Unit")]
public sealed class ServiceTableBuilderTests
{
    [Fact]
    public void A_cluster_ip_port_takes_ready_endpoints_with_their_slice_port()
    {
        var table = ServiceTableBuilder.Build([Service("web")], [Slice("web", "web-a", 8080, Ep("10.244.0.5", ready: true), Ep("10.244.0.6", ready: false))], "n1");

        var port = table.Ports.Values.Single();
        port.Name.Should().Be(new ServicePortName("shop", "web", "http", ServiceProtocol.Tcp));
        port.ClusterIPs.Should().Equal(IPAddress.Parse("10.96.0.20"));
        port.ClusterEndpoints.Should().Equal(new ServiceEndpoint(IPAddress.Parse("10.244.0.5"), 8080, "n1"));
    }

    [Fact]
    public void Without_ready_endpoints_the_serving_terminating_ones_are_used()
    {
        var table = ServiceTableBuilder.Build([Service("web")], [Slice("web", "web-a", 8080, Ep("10.244.0.5", ready: false, serving: true, terminating: true), Ep("10.244.0.6", ready: false, serving: false, terminating: true))], "n1");

        table.Ports.Values.Single().ClusterEndpoints.Select(e => e.Address.ToString()).Should().Equal("10.244.0.5");
    }

    [Fact]
    public void A_named_port_takes_each_slices_own_number()
    {
        var table = ServiceTableBuilder.Build([Service("web")], [Slice("web", "web-a", 8080, Ep("10.244.0.5")), Slice("web", "web-b", 9090, Ep("10.244.1.5"))], "n1");

        table.Ports.Values.Single().ClusterEndpoints.Select(e => e.ToString()).Should().BeEquivalentTo("10.244.0.5:8080", "10.244.1.5:9090");
    }

    [Fact]
    public void Local_traffic_policies_narrow_to_this_nodes_endpoints()
    {
        var service = Service("web", type: "NodePort");
        service.Spec.ExternalTrafficPolicy = "Local";
        service.Spec.InternalTrafficPolicy = "Local";
        var slices = new[] { Slice("web", "web-a", 8080, Ep("10.244.0.5", node: "n1"), Ep("10.244.1.5", node: "n2")) };

        var port = ServiceTableBuilder.Build([service], slices, "n2").Ports.Values.Single();

        port.ClusterEndpoints.Select(e => e.Address.ToString()).Should().Equal("10.244.1.5");
        port.ExternalEndpoints.Select(e => e.Address.ToString()).Should().Equal("10.244.1.5");
        port.NodePort.Should().Be(30080);
        port.ExternalPolicyLocal.Should().BeTrue();
    }

    [Fact]
    public void Headless_and_external_name_services_have_no_entry()
    {
        var headless = Service("db");
        headless.Spec.ClusterIP = "None";
        headless.Spec.ClusterIPs = ["None"];
        var external = Service("ext");
        external.Spec.Type = "ExternalName";

        ServiceTableBuilder.Build([headless, external], [], "n1").Ports.Should().BeEmpty();
    }

    [Fact]
    public void Load_balancer_ingress_external_ips_and_affinity_are_carried()
    {
        var service = Service("web", type: "LoadBalancer");
        service.Spec.ExternalIPs = ["192.168.50.10"];
        service.Spec.SessionAffinity = "ClientIP";
        service.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "192.168.60.2" }] } };

        var port = ServiceTableBuilder.Build([service], [], "n1").Ports.Values.Single();

        port.ExternalIPs.Should().Equal(IPAddress.Parse("192.168.50.10"));
        port.LoadBalancerIPs.Should().Equal(IPAddress.Parse("192.168.60.2"));
        port.StickyFor.Should().Be(TimeSpan.FromSeconds(10800));
        port.ClusterEndpoints.Should().BeEmpty("a Service without slices has no endpoint, so proxies refuse it");
    }

    [Fact]
    public void Equal_inputs_give_equal_ports_so_proxies_can_skip_them()
    {
        var a = ServiceTableBuilder.Build([Service("web")], [Slice("web", "web-a", 8080, Ep("10.244.0.5"))], "n1");
        var b = ServiceTableBuilder.Build([Service("web")], [Slice("web", "web-a", 8080, Ep("10.244.0.5"))], "n1");
        var c = ServiceTableBuilder.Build([Service("web")], [Slice("web", "web-a", 8080, Ep("10.244.0.6"))], "n1");

        a.Ports.Values.Single().Should().Be(b.Ports.Values.Single());
        a.Ports.Values.Single().Should().NotBe(c.Ports.Values.Single());
    }

    private static V1Service Service(string name, string type = "ClusterIP") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "shop" },
        Spec = new V1ServiceSpec
        {
            Type = type,
            ClusterIP = "10.96.0.20",
            ClusterIPs = ["10.96.0.20"],
            Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = "http", Protocol = "TCP", NodePort = type == "ClusterIP" ? null : 30080 }],
        },
    };

    private static V1EndpointSlice Slice(string service, string name, int port, params V1Endpoint[] endpoints) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "shop", Labels = new Dictionary<string, string> { [EndpointsController.ServiceNameLabel] = service } },
        AddressType = "IPv4",
        Ports = [new Discoveryv1EndpointPort { Name = "http", Port = port, Protocol = "TCP" }],
        Endpoints = endpoints,
    };

    private static V1Endpoint Ep(string ip, bool ready = true, bool? serving = null, bool terminating = false, string node = "n1") => new()
    {
        Addresses = [ip],
        NodeName = node,
        Conditions = new V1EndpointConditions { Ready = ready, Serving = serving ?? ready, Terminating = terminating },
    };
}
