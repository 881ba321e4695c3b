using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Nodes;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>Node IPAM: a pod CIDR per node, distinct, kept once given.</summary>
[Trait("Category", "Unit")]
public sealed class NodeIpamControllerTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly NodeIpamController _controller;

    public NodeIpamControllerTests()
    {
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
        _controller = new NodeIpamController(_client, Options.Create(new NodeIpamOptions { ClusterCidr = "10.244.0.0/22", NodeCidrMaskSize = 24 }), NullLogger<NodeIpamController>.Instance, new Orchestration.Events.EventRecorder(_client, TimeProvider.System));
    }

    public async Task InitializeAsync() => await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Each_node_gets_its_own_block_and_keeps_it_and_a_full_range_leaves_a_cidr_not_available_event_and_a_later_retry()
    {
        foreach (var name in new[] { "a", "b", "c", "d", "e" })
        {
            await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name } });
        }

        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            await _controller.ReconcileAsync(new ObjectKey(null, name), CancellationToken.None);
        }

        await _controller.ReconcileAsync(new ObjectKey(null, "a"), CancellationToken.None);
        var full = await _controller.ReconcileAsync(new ObjectKey(null, "e"), CancellationToken.None);

        var cidrs = (await _client.ListAsync<V1Node>(null)).Items.Where(n => n.Metadata.Name != "e").ToDictionary(n => n.Metadata.Name, n => n.Spec.PodCIDR);
        cidrs.Should().BeEquivalentTo(new Dictionary<string, string> { ["a"] = "10.244.0.0/24", ["b"] = "10.244.1.0/24", ["c"] = "10.244.2.0/24", ["d"] = "10.244.3.0/24" });
        (await _client.GetAsync<V1Node>(null, "a")).Spec.PodCIDRs.Should().Equal("10.244.0.0/24");
        full.RequeueAfter.Should().Be(NodeIpamController.ExhaustedRetry);
        (await _client.GetAsync<V1Node>(null, "e")).Spec?.PodCIDR.Should().BeNull();
        (await _client.ListAsync<Corev1Event>("default")).Items.Should().ContainSingle(e => e.Reason == "CIDRNotAvailable" && e.InvolvedObject.Name == "e");
    }
}
