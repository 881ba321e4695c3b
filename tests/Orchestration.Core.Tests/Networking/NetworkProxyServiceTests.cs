using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
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

    public NetworkProxyServiceTests()
    {
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "n1" } });
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

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

    private async Task<V1NodeCondition?> ConditionAsync() =>
        (await _client.GetAsync<V1Node>(null, "n1")).Status?.Conditions?.FirstOrDefault(c => c.Type == NetworkProxyService.ConditionType);

    private NetworkProxyService Start()
    {
        var services = new ServiceCollection().AddSingleton<INetworkProxy>(_proxy).BuildServiceProvider();
        var options = Options.Create(new NetworkProxyOptions { NodeName = "n1", MinSyncInterval = TimeSpan.FromMilliseconds(10), MaxRetryInterval = TimeSpan.FromMilliseconds(40) });
        var service = new NetworkProxyService(services, _client, options, new EventRecorder(_client, TimeProvider.System), TimeProvider.System, NullLoggerFactory.Instance);
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
