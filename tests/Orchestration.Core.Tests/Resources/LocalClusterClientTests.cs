using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Hosting;
using Orchestration.Resources;
using Orchestration.State;
using Orchestration.TestKit.Conformance;

namespace Orchestration.Core.Tests.Resources;

/// <summary>The client conformance kit against the local client over the in-memory store.</summary>
public sealed class LocalClusterClientTests : ClusterClientConformanceTests
{
    protected override Task<ClusterClientHarness> StartAsync(FakeTimeProvider clock)
    {
        var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }, clock);
        var client = new LocalClusterClient(new ObjectRegistry(store, ResourceKindTable.CreateDefault(), clock));
        return Task.FromResult(new ClusterClientHarness(client, store, store));
    }

    [Fact]
    public async Task The_di_front_door_composes_a_working_client_over_the_in_memory_store()
    {
        await using var provider = new ServiceCollection().AddOrchestrationState().BuildServiceProvider();
        var client = provider.GetRequiredService<IClusterClient>();
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });

        await client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "c" }, Data = new Dictionary<string, string> { ["k"] = "v" } });

        (await client.GetAsync<V1ConfigMap>("default", "c")).Data["k"].Should().Be("v");
        provider.GetRequiredService<IStateStore>().Should().BeOfType<InMemoryStateStore>();
    }
}
