using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Network;
using Orchestration.Informers;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>The Endpoints controller: ready and not-ready addresses, named ports, slices, and cleanup.</summary>
[Trait("Category", "Unit")]
public sealed class EndpointsControllerTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly EndpointsController _controller;
    private readonly ObjectKey _key = new("default", "web");

    public EndpointsControllerTests()
    {
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
        _controller = new EndpointsController(_client, NullLogger<EndpointsController>.Instance);
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await _client.CreateAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { Selector = new Dictionary<string, string> { ["app"] = "web" }, Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = "http" }] },
        });
        await PodAsync("web-1", "10.244.0.5", ready: true);
        await PodAsync("web-2", "10.244.1.7", ready: false);
        await PodAsync("other", "10.244.0.9", ready: true, app: "db");
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private async Task PodAsync(string name, string ip, bool ready, string app = "web")
    {
        var pod = await _client.CreateAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["app"] = app } },
            Spec = new V1PodSpec { NodeName = "n1", Containers = [new V1Container { Name = "c", Image = "busybox", Ports = [new V1ContainerPort { Name = "http", ContainerPort = 8080 }] }] },
        });
        pod.Status = new V1PodStatus { Phase = "Running", PodIP = ip, Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False" }] };
        await _client.UpdateStatusAsync(pod);
    }

    [Fact]
    public async Task Ready_pods_are_addresses_others_not_ready_and_named_ports_resolve()
    {
        await _controller.ReconcileAsync(_key, CancellationToken.None);

        var endpoints = await _client.GetAsync<V1Endpoints>("default", "web");
        var subset = endpoints.Subsets.Single();
        subset.Addresses.Select(a => a.Ip).Should().Equal("10.244.0.5");
        subset.NotReadyAddresses.Select(a => a.Ip).Should().Equal("10.244.1.7");
        subset.Ports.Single().Port.Should().Be(8080, "the named targetPort resolves to the container's port");
        var slice = (await SlicesAsync()).Single();
        slice.Metadata.Labels[EndpointsController.ServiceNameLabel].Should().Be("web");
        slice.Metadata.OwnerReferences.Single().Kind.Should().Be("Service");
        slice.Endpoints.Select(e => $"{e.Addresses[0]}:{e.Conditions.Ready}").Should().BeEquivalentTo("10.244.0.5:True", "10.244.1.7:False");
    }

    [Fact]
    public async Task A_terminating_pod_stays_in_the_slice_as_terminating_and_still_serving_but_leaves_endpoints()
    {
        var pod = await _client.GetAsync<V1Pod>("default", "web-1");
        pod.Metadata.Finalizers = ["test/hold"];
        await _client.UpdateAsync(pod);
        await _client.DeleteAsync<V1Pod>("default", "web-1");

        await _controller.ReconcileAsync(_key, CancellationToken.None);

        var endpoints = await _client.GetAsync<V1Endpoints>("default", "web");
        endpoints.Subsets.SelectMany(s => s.Addresses ?? []).Should().BeEmpty();
        var terminating = (await SlicesAsync()).Single().Endpoints.Single(e => e.Addresses[0] == "10.244.0.5");
        (terminating.Conditions.Ready, terminating.Conditions.Serving, terminating.Conditions.Terminating).Should().Be((false, true, true));
    }

    [Fact]
    public async Task Pods_whose_named_port_resolves_differently_get_a_slice_each_and_stale_slices_go()
    {
        var pod = await _client.CreateAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web-3", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["app"] = "web" } },
            Spec = new V1PodSpec { NodeName = "n2", Containers = [new V1Container { Name = "c", Image = "busybox", Ports = [new V1ContainerPort { Name = "http", ContainerPort = 9090 }] }] },
        });
        pod.Status = new V1PodStatus { Phase = "Running", PodIP = "10.244.2.3", Conditions = [new V1PodCondition { Type = "Ready", Status = "True" }] };
        await _client.UpdateStatusAsync(pod);

        await _controller.ReconcileAsync(_key, CancellationToken.None);

        var slices = await SlicesAsync();
        slices.Select(s => $"{s.Ports.Single().Port}:{string.Join(",", s.Endpoints.Select(e => e.Addresses[0]).Order())}")
            .Should().BeEquivalentTo("8080:10.244.0.5,10.244.1.7", "9090:10.244.2.3");

        await _client.DeleteAsync<V1Pod>("default", "web-3");
        await _controller.ReconcileAsync(_key, CancellationToken.None);

        (await SlicesAsync()).Select(s => s.Ports.Single().Port).Should().Equal(8080);
    }

    [Fact]
    public async Task A_pod_with_the_service_as_its_subdomain_gets_its_hostname_in_the_slice()
    {
        var pod = await _client.GetAsync<V1Pod>("default", "web-1");
        pod.Spec.Hostname = "web-1";
        pod.Spec.Subdomain = "web";
        await _client.UpdateAsync(pod);

        await _controller.ReconcileAsync(_key, CancellationToken.None);

        (await SlicesAsync()).Single().Endpoints.Single(e => e.Addresses[0] == "10.244.0.5").Hostname.Should().Be("web-1");
    }

    private async Task<IReadOnlyList<V1EndpointSlice>> SlicesAsync() =>
        (await _client.ListAsync<V1EndpointSlice>("default", new ListOptions { LabelSelector = $"{EndpointsController.ServiceNameLabel}=web" })).Items;

    [Fact]
    public async Task A_deleted_service_takes_its_endpoints_along()
    {
        await _controller.ReconcileAsync(_key, CancellationToken.None);
        await _client.DeleteAsync<V1Service>("default", "web");

        await _controller.ReconcileAsync(_key, CancellationToken.None);

        await _client.Invoking(c => c.GetAsync<V1Endpoints>("default", "web")).Should().ThrowAsync<NotFoundException>();
    }

    [Fact]
    public async Task A_pod_maps_to_the_services_that_select_it()
    {
        var informers = new InformerFactory(_client);
        var services = informers.For<V1Service>();
        using var stop = new CancellationTokenSource();
        var run = informers.RunAsync(stop.Token);
        await services.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        var web = await _client.GetAsync<V1Pod>("default", "web-1");
        var db = await _client.GetAsync<V1Pod>("default", "other");
        var forWeb = EndpointsController.ServicesOf(informers, web).ToList();
        var forDb = EndpointsController.ServicesOf(informers, db).ToList();
        await stop.CancelAsync();
        await run;

        forWeb.Should().Equal(_key);
        forDb.Should().BeEmpty();
    }
}
