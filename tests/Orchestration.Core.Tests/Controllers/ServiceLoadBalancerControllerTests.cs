using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Network;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>LoadBalancer Services on a cluster without a cloud: the Ready nodes' addresses as ingress.</summary>
[Trait("Category", "Unit")]
public sealed class ServiceLoadBalancerControllerTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly ServiceLoadBalancerController _controller;

    public ServiceLoadBalancerControllerTests()
    {
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
        _controller = new ServiceLoadBalancerController(_client, new ControllerContext(), NullLogger<ServiceLoadBalancerController>.Instance);
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await NodeAsync("n1", "192.168.50.11", ready: true);
        await NodeAsync("n2", "192.168.50.12", ready: false);
        await NodeAsync("n3", "192.168.50.13", ready: true, external: "203.0.113.7");
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_load_balancer_gets_the_ready_nodes_addresses_and_loses_them_when_it_changes_type()
    {
        await ServiceAsync("lb", "LoadBalancer");

        await _controller.ReconcileAsync(new ObjectKey("default", "lb"), CancellationToken.None);

        var service = await _client.GetAsync<V1Service>("default", "lb");
        service.Status.LoadBalancer.Ingress.Select(i => i.Ip).Should().Equal("192.168.50.11", "203.0.113.7");

        service.Spec.Type = "ClusterIP";
        foreach (var port in service.Spec.Ports)
        {
            port.NodePort = null;
        }

        await _client.UpdateAsync(service);
        await _controller.ReconcileAsync(new ObjectKey("default", "lb"), CancellationToken.None);

        (await _client.GetAsync<V1Service>("default", "lb")).Status?.LoadBalancer?.Ingress.Should().BeNullOrEmpty();
    }

    [Fact]
    public async Task A_load_balancer_of_another_class_is_left_alone()
    {
        await ServiceAsync("classy", "LoadBalancer", loadBalancerClass: "example.com/metal");

        await _controller.ReconcileAsync(new ObjectKey("default", "classy"), CancellationToken.None);

        (await _client.GetAsync<V1Service>("default", "classy")).Status?.LoadBalancer?.Ingress.Should().BeNullOrEmpty();
    }

    private async Task ServiceAsync(string name, string type, string? loadBalancerClass = null) =>
        await _client.CreateAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { Type = type, LoadBalancerClass = loadBalancerClass, Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new V1ServicePort { Port = 80 }] },
        });

    private async Task NodeAsync(string name, string ip, bool ready, string? external = null)
    {
        var node = await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name } });
        node.Status = new V1NodeStatus
        {
            Addresses = external is null
                ? [new V1NodeAddress { Type = "InternalIP", Address = ip }]
                : [new V1NodeAddress { Type = "InternalIP", Address = ip }, new V1NodeAddress { Type = "ExternalIP", Address = external }],
            Conditions = [new V1NodeCondition { Type = "Ready", Status = ready ? "True" : "False" }],
        };
        await _client.UpdateStatusAsync(node);
    }
}
