using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Nodes;
using Orchestration.Events;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>Node lifecycle on a fake clock: a silent node goes Unknown and tainted, its pods go when their tolerations run out, and it recovers.</summary>
[Trait("Category", "Unit")]
public sealed class NodeLifecycleControllerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStateStore _store;
    private readonly LocalClusterClient _client;
    private readonly NodeLifecycleController _controller;
    private readonly ObjectKey _node = new(null, "n1");

    public NodeLifecycleControllerTests()
    {
        _store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }, _clock);
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), _clock));
        _controller = new NodeLifecycleController(_client, new EventRecorder(_client, _clock), Options.Create(new NodeLifecycleOptions { GracePeriod = TimeSpan.FromSeconds(40) }), _clock, NullLogger<NodeLifecycleController>.Instance);
    }

    public async Task InitializeAsync()
    {
        foreach (var ns in new[] { "default", "kube-node-lease" })
        {
            await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        }

        await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "n1" } });

        // Another node that is Ready: evictions only happen while some node is (no full disruption).
        var healthy = await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "n2" } });
        healthy.Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady" }] };
        await _client.UpdateStatusAsync(healthy);
        await _client.CreateAsync(new V1Lease { Metadata = new V1ObjectMeta { Name = "n1", NamespaceProperty = "kube-node-lease" }, Spec = new V1LeaseSpec { HolderIdentity = "n1", RenewTime = _clock.GetUtcNow().UtcDateTime } });
        await PodAsync("default-toleration", null);
        await PodAsync("ten-seconds", new V1Toleration { Key = NodeLifecycleController.UnreachableTaint, OperatorProperty = "Exists", Effect = "NoExecute", TolerationSeconds = 10 });
        await PodAsync("forever", new V1Toleration { OperatorProperty = "Exists" });
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private async Task PodAsync(string name, V1Toleration? toleration) =>
        await _client.CreateAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
            Spec = new V1PodSpec { NodeName = "n1", Tolerations = toleration is null ? null : [toleration], Containers = [new V1Container { Name = "c", Image = "busybox" }] },
        });

    private async Task<string[]> PodsAsync() => (await _client.ListAsync<V1Pod>("default")).Items.Select(p => p.Metadata.Name).Order().ToArray();

    [Fact]
    public async Task A_silent_node_is_tainted_its_pods_go_as_tolerations_run_out_and_it_recovers_when_it_renews()
    {
        (await _client.GetAsync<V1Pod>("default", "default-toleration")).Spec.Tolerations.Should().Contain(t => t.Key == NodeLifecycleController.UnreachableTaint && t.TolerationSeconds == 300, "DefaultTolerationSeconds admission adds 300 s");

        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var fresh = await _client.GetAsync<V1Node>(null, "n1");
        _clock.Advance(TimeSpan.FromSeconds(41));
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var silent = await _client.GetAsync<V1Node>(null, "n1");
        var right = await PodsAsync();
        _clock.Advance(TimeSpan.FromSeconds(10));
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var afterTen = await PodsAsync();
        _clock.Advance(TimeSpan.FromSeconds(300));
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var afterDefault = await PodsAsync();

        var lease = await _client.GetAsync<V1Lease>("kube-node-lease", "n1");
        lease.Spec.RenewTime = _clock.GetUtcNow().UtcDateTime;
        await _client.UpdateAsync(lease);
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var recovered = await _client.GetAsync<V1Node>(null, "n1");

        (fresh.Spec?.Taints ?? []).Should().BeEmpty("a node renewing its lease is left alone");
        silent.Spec.Taints.Select(t => $"{t.Key}:{t.Effect}").Should().BeEquivalentTo($"{NodeLifecycleController.UnreachableTaint}:NoSchedule", $"{NodeLifecycleController.UnreachableTaint}:NoExecute");
        silent.Status.Conditions.Single(c => c.Type == "Ready").Status.Should().Be("Unknown");
        right.Should().Equal("default-toleration", "forever", "ten-seconds");
        afterTen.Should().Equal("default-toleration", "forever");
        afterDefault.Should().Equal(["forever"], "a toleration without seconds tolerates for good");
        (recovered.Spec.Taints ?? []).Should().BeEmpty();
        recovered.Status.Conditions.Single(c => c.Type == "Ready").Status.Should().Be("True");
        (await _client.ListAsync<Corev1Event>(null)).Items.Should().Contain(e => e.Reason == "NodeNotReady").And.Contain(e => e.Reason == "TaintManagerEviction");
    }

    [Fact]
    public async Task A_node_that_renews_but_reports_NotReady_is_tainted_not_ready_its_pods_go_as_tolerations_run_out_and_the_taint_goes_when_it_is_Ready()
    {
        await PodAsync("tolerates-not-ready-5s", new V1Toleration { Key = NodeLifecycleController.NotReadyTaint, OperatorProperty = "Exists", Effect = "NoExecute", TolerationSeconds = 5 });
        (await _client.GetAsync<V1Pod>("default", "default-toleration")).Spec.Tolerations.Should().Contain(t => t.Key == NodeLifecycleController.NotReadyTaint && t.TolerationSeconds == 300, "DefaultTolerationSeconds admission adds 300 s");
        await ReportReadyAsync("False");
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var notReady = await _client.GetAsync<V1Node>(null, "n1");
        var right = await PodsAsync();
        _clock.Advance(TimeSpan.FromSeconds(5));
        await RenewAsync();
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var afterFive = await PodsAsync();

        await ReportReadyAsync("True");
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var ready = await _client.GetAsync<V1Node>(null, "n1");

        notReady.Spec.Taints.Select(t => $"{t.Key}:{t.Effect}").Should().BeEquivalentTo($"{NodeLifecycleController.NotReadyTaint}:NoSchedule", $"{NodeLifecycleController.NotReadyTaint}:NoExecute");
        notReady.Status.Conditions.Single(c => c.Type == "Ready").Status.Should().Be("False", "the agent's own condition is left as it reported it");
        right.Should().Equal("default-toleration", "forever", "ten-seconds", "tolerates-not-ready-5s");
        afterFive.Should().Equal(["default-toleration", "forever", "ten-seconds"], "the pod whose not-ready toleration ran out is evicted; the others tolerate it for 300 s or for good");
        (ready.Spec.Taints ?? []).Should().BeEmpty("a node that reports Ready again loses the taint");
    }

    private async Task ReportReadyAsync(string status)
    {
        var node = await _client.GetAsync<V1Node>(null, "n1");
        node.Status ??= new V1NodeStatus();
        node.Status.Conditions = [new V1NodeCondition { Type = "Ready", Status = status, Reason = status == "True" ? "KubeletReady" : "KubeletNotReady", LastHeartbeatTime = _clock.GetUtcNow().UtcDateTime, LastTransitionTime = _clock.GetUtcNow().UtcDateTime }];
        await _client.UpdateStatusAsync(node);
    }

    private async Task RenewAsync()
    {
        var lease = await _client.GetAsync<V1Lease>("kube-node-lease", "n1");
        lease.Spec.RenewTime = _clock.GetUtcNow().UtcDateTime;
        await _client.UpdateAsync(lease);
    }

    [Fact]
    public async Task While_no_node_is_Ready_nothing_is_evicted_and_evictions_resume_when_one_is()
    {
        var other = await _client.GetAsync<V1Node>(null, "n2");
        other.Status.Conditions = [new V1NodeCondition { Type = "Ready", Status = "Unknown", Reason = "NodeStatusUnknown" }];
        await _client.UpdateStatusAsync(other);

        _clock.Advance(TimeSpan.FromSeconds(41));
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var silent = await _client.GetAsync<V1Node>(null, "n1");
        _clock.Advance(TimeSpan.FromSeconds(400));
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var kept = await PodsAsync();

        other = await _client.GetAsync<V1Node>(null, "n2");
        other.Status.Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady" }];
        await _client.UpdateStatusAsync(other);
        await _controller.ReconcileAsync(_node, CancellationToken.None);
        var resumed = await PodsAsync();

        silent.Spec.Taints.Select(t => t.Key).Should().Contain(NodeLifecycleController.UnreachableTaint, "the node is still marked");
        kept.Should().Equal(["default-toleration", "forever", "ten-seconds"], "with every node down the pods stay, whatever their tolerations");
        resumed.Should().Equal(["forever"], "once a node is Ready the run-out tolerations are acted on");
    }
}
