using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Informers;
using Orchestration.Networking;
using Orchestration.Resources;
using Orchestration.State;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.Networking;

/// <summary>The proxy's sync loop: what it hands the proxy, and how a failing data plane is reported.</summary>
[Trait("Category", "Unit")]
public sealed class NetworkProxyServiceTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly RecordingProxy _proxy = new();
    private readonly List<WorkerInformers> _informers = [];

    public NetworkProxyServiceTests()
    {
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "n1" } });
    }

    public async Task DisposeAsync()
    {
        foreach (var informers in _informers)
        {
            await informers.StopAsync(CancellationToken.None);
            informers.Dispose();
        }

        await _store.DisposeAsync();
    }

    [Fact]
    public async Task A_new_service_and_its_slice_reach_the_proxy_and_a_stop_cleans_up()
    {
        using var service = Start();

        await _client.CreateAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "10.96.0.20", Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
        });
        await _client.CreateAsync(new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = "web-a", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = "web" } },
            AddressType = "IPv4",
            Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
            Endpoints = [new V1Endpoint { Addresses = ["10.244.0.5"], Conditions = new V1EndpointConditions { Ready = true } }],
        });

        (await Eventually.HoldsAsync(() => _proxy.Last?.Ports.Values.Any(p => p.ClusterEndpoints.Count == 1) == true, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the Service with its endpoint reaches the proxy");
        await service.StopAsync(CancellationToken.None);
        _proxy.CleanedUp.Should().BeTrue("a graceful stop removes what the proxy programmed");
    }

    [Fact]
    public async Task A_change_to_one_service_recomputes_only_it_and_the_others_keep_their_entries()
    {
        using var service = Start();
        await CreateServiceAsync("web", "10.96.0.20", "10.244.0.5");
        await CreateServiceAsync("api", "10.96.0.21", "10.244.0.6");
        (await Eventually.HoldsAsync(() => _proxy.Last?.Ports.Count == 2 && _proxy.Last.Ports.Values.All(p => p.ClusterEndpoints.Count == 1), 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("both Services reach the proxy");
        var before = _proxy.Last!;
        var web = before.Ports.Values.Single(p => p.Name.Service == "web");

        await _client.PatchAsync<V1EndpointSlice>("default", "api-a", new ObjectPatch(PatchKind.Merge, """{"endpoints":[{"addresses":["10.244.0.6"]},{"addresses":["10.244.0.7"]}]}"""));

        (await Eventually.HoldsAsync(() => _proxy.Last!.Ports.Values.Single(p => p.Name.Service == "api").ClusterEndpoints.Count == 2, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the changed slice reaches the proxy");
        _proxy.Last!.Ports.Values.Single(p => p.Name.Service == "web").Should().BeSameAs(web, "a Service that did not change keeps its entry, so the proxy skips it by reference");

        // A slice relabelled to another Service leaves the first one and joins the second.
        await _client.PatchAsync<V1EndpointSlice>("default", "api-a", new ObjectPatch(PatchKind.Merge, """{"metadata":{"labels":{"kubernetes.io/service-name":"web"}}}"""));
        (await Eventually.HoldsAsync(() => _proxy.Last!.Ports.Values.Single(p => p.Name.Service == "api").ClusterEndpoints.Count == 0 && _proxy.Last.Ports.Values.Single(p => p.Name.Service == "web").ClusterEndpoints.Count == 3, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("both Services are computed again when a slice moves between them");

        await _client.DeleteAsync<V1Service>("default", "api");
        (await Eventually.HoldsAsync(() => _proxy.Last!.Ports.Keys.Select(k => k.Service).SequenceEqual(["web"]), 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("a deleted Service leaves the table");
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_failing_sync_sets_the_node_condition_and_an_event_and_a_good_one_clears_it()
    {
        _proxy.Failure = "nftables is not installed";
        using var service = Start();

        (await Eventually.HoldsAsync(async () => (await ConditionAsync())?.Status == "False", 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the node reports that its proxy fails");
        var condition = (await ConditionAsync())!;
        (condition.Reason, condition.Message).Should().Be(("ProxySyncFailed", "nftables is not installed"));
        (await Eventually.HoldsAsync(async () => (await _client.ListAsync<Corev1Event>("default")).Items.Any(e => e.Reason == "ProxySyncFailed" && e.InvolvedObject.Kind == "Node" && e.Message == "nftables is not installed"), 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("a Warning event on the node says why");

        _proxy.Failure = null;

        (await Eventually.HoldsAsync(async () => (await ConditionAsync())?.Status == "True", 200, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the next good sync clears the condition");
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_failure_condition_another_writer_dropped_is_put_back_by_the_next_failed_sync()
    {
        _proxy.Failure = "nft refused the rules";
        using var service = Start();
        (await Eventually.HoldsAsync(async () => (await ConditionAsync())?.Status == "False", 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the node reports that its proxy fails");

        // A node agent registering again writes the node's status without the proxy's condition.
        var node = await _client.GetAsync<V1Node>(null, "n1");
        node.Status.Conditions = [.. node.Status.Conditions.Where(c => c.Type != NetworkProxyService.ConditionType)];
        await _client.UpdateStatusAsync(node);

        (await Eventually.HoldsAsync(async () => (await ConditionAsync())?.Status == "False", 200, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the next failed sync finds the condition gone and reports again");
        await service.StopAsync(CancellationToken.None);
    }

    private async Task CreateServiceAsync(string name, string clusterIP, string endpoint)
    {
        await _client.CreateAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = clusterIP, Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
        });
        await _client.CreateAsync(new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta { Name = $"{name}-a", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = name } },
            AddressType = "IPv4",
            Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
            Endpoints = [new V1Endpoint { Addresses = [endpoint] }],
        });
    }

    private async Task<V1NodeCondition?> ConditionAsync() =>
        (await _client.GetAsync<V1Node>(null, "n1")).Status?.Conditions?.FirstOrDefault(c => c.Type == NetworkProxyService.ConditionType);

    private NetworkProxyService Start()
    {
        var services = new ServiceCollection().AddSingleton<INetworkProxy>(_proxy).BuildServiceProvider();
        var options = Options.Create(new NetworkProxyOptions { NodeName = "n1", MinSyncInterval = TimeSpan.FromMilliseconds(10), MaxRetryInterval = TimeSpan.FromMilliseconds(40) });
        var informers = new WorkerInformers(_client, TimeProvider.System, NullLoggerFactory.Instance);
        _informers.Add(informers);
        informers.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        var service = new NetworkProxyService(services, informers, _client, options, new EventRecorder(_client, TimeProvider.System), TimeProvider.System, NullLoggerFactory.Instance);
        service.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return service;
    }

    private sealed class RecordingProxy : INetworkProxy
    {
        public volatile string? Failure;

        public ServiceTable? Last { get; private set; }

        public bool CleanedUp { get; private set; }

        public Task SyncAsync(ServiceTable table, CancellationToken cancellationToken)
        {
            if (Failure is { } failure)
            {
                throw new NetworkProxyException(failure);
            }

            Last = table;
            return Task.CompletedTask;
        }

        public Task CleanUpAsync(CancellationToken cancellationToken)
        {
            CleanedUp = true;
            return Task.CompletedTask;
        }
    }
}
