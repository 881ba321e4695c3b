using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Scheduling;
using Orchestration.Scheduling.Cache;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>The scheduler's cache: nodes and bound pods adjusted per event, and assumed pods, on a fake clock.</summary>
[Trait("Category", "Unit")]
public sealed class SchedulerCacheTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SchedulerCache _cache;
    private readonly DefaultScheduler _scheduler = DefaultScheduler.CreateDefault();

    public SchedulerCacheTests() => _cache = new SchedulerCache(_time, TimeSpan.FromMinutes(15));

    private static V1Node Node(string name, string cpu = "4", Dictionary<string, string>? labels = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = labels },
        Status = new V1NodeStatus { Allocatable = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu), ["memory"] = new("8Gi"), ["pods"] = new("110") } },
    };

    private static V1Pod Pod(string name, string? node = null, string cpu = "500m", Dictionary<string, string>? labels = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Labels = labels },
        Spec = new V1PodSpec
        {
            NodeName = node,
            Containers = [new V1Container { Name = "c", Image = "i", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu) } } }],
        },
    };

    [Fact]
    public void Bound_pods_add_update_and_remove_their_requests_on_their_node()
    {
        _cache.AddOrUpdateNode(Node("n1"));
        _cache.AddOrUpdatePod(Pod("a", "n1"));
        _cache.AddOrUpdatePod(Pod("b", "n1"));
        var two = _cache.FindNode("n1")!.Requested.MilliCpu;

        _cache.AddOrUpdatePod(Pod("b", "n1", cpu: "1"));
        var updated = _cache.FindNode("n1")!.Requested.MilliCpu;
        _cache.RemovePod("default/a");

        two.Should().Be(1000);
        updated.Should().Be(1500, "an update replaces the pod's view, it does not add a second one");
        _cache.FindNode("n1")!.Requested.MilliCpu.Should().Be(1000);
        _cache.FindNode("n1")!.PodCount.Should().Be(1);
    }

    [Fact]
    public void A_changed_node_keeps_its_pods_and_takes_its_new_labels()
    {
        _cache.AddOrUpdateNode(Node("n1"));
        _cache.AddOrUpdatePod(Pod("a", "n1"));

        _cache.AddOrUpdateNode(Node("n1", cpu: "8", labels: new() { ["zone"] = "a" }));

        var node = _cache.FindNode("n1")!;
        (node.Allocatable.MilliCpu, node.Requested.MilliCpu, node.Labels["zone"]).Should().Be((8000, 500, "a"));
        _cache.NodeCount.Should().Be(1);
    }

    [Fact]
    public void Pods_bound_before_their_node_is_seen_count_once_it_arrives_and_a_deleted_node_takes_no_more()
    {
        _cache.AddOrUpdatePod(Pod("early", "n1"));
        _cache.AddOrUpdateNode(Node("n1"));
        var requested = _cache.FindNode("n1")!.Requested.MilliCpu;

        _cache.RemoveNode("n1");

        requested.Should().Be(500);
        _cache.NodeCount.Should().Be(0);
        _cache.Schedule(_scheduler, SchedulingPod.From(Pod("p"))).Scheduled.Should().BeFalse();
    }

    [Fact]
    public void An_assumed_pod_holds_its_room_until_the_informer_confirms_it_without_counting_twice()
    {
        _cache.AddOrUpdateNode(Node("n1", cpu: "1"));

        var first = _cache.Schedule(_scheduler, SchedulingPod.From(Pod("a")));
        var second = _cache.Schedule(_scheduler, SchedulingPod.From(Pod("b")));
        var third = _cache.Schedule(_scheduler, SchedulingPod.From(Pod("c")));
        _cache.AddOrUpdatePod(Pod("a", "n1"));

        (first.NodeName, second.NodeName, third.Scheduled).Should().Be(("n1", "n1", false));
        _cache.IsAssumed("default/a").Should().BeFalse();
        _cache.IsAssumed("default/b").Should().BeTrue();
        _cache.FindNode("n1")!.Requested.MilliCpu.Should().Be(1000);
    }

    [Fact]
    public void A_forgotten_assumption_gives_the_room_back()
    {
        _cache.AddOrUpdateNode(Node("n1", cpu: "1"));
        _cache.Schedule(_scheduler, SchedulingPod.From(Pod("a", cpu: "1")));

        _cache.Forget("default/a");

        _cache.FindNode("n1")!.Requested.MilliCpu.Should().Be(0);
        _cache.Schedule(_scheduler, SchedulingPod.From(Pod("b", cpu: "1"))).NodeName.Should().Be("n1");
    }

    [Fact]
    public void An_assumed_pod_never_confirmed_expires_after_its_binding_finished_plus_the_expiry()
    {
        _cache.AddOrUpdateNode(Node("n1", cpu: "1"));
        _cache.Schedule(_scheduler, SchedulingPod.From(Pod("a", cpu: "1")));
        _time.Advance(TimeSpan.FromHours(1));
        _cache.CleanupExpiredAssumedPods();
        var beforeBindingFinished = _cache.IsAssumed("default/a");

        _cache.FinishBinding("default/a");
        _time.Advance(TimeSpan.FromMinutes(14));
        _cache.CleanupExpiredAssumedPods();
        var before = _cache.IsAssumed("default/a");
        _time.Advance(TimeSpan.FromMinutes(1));
        _cache.CleanupExpiredAssumedPods();

        beforeBindingFinished.Should().BeTrue("a binding in progress never expires");
        before.Should().BeTrue();
        _cache.IsAssumed("default/a").Should().BeFalse();
        _cache.FindNode("n1")!.Requested.MilliCpu.Should().Be(0);
    }

    [Fact]
    public void Removing_a_bound_pod_with_anti_affinity_lifts_it_from_the_snapshot_index()
    {
        _cache.AddOrUpdateNode(Node("n1", labels: new() { ["kubernetes.io/hostname"] = "n1" }));
        var loner = Pod("loner", "n1", labels: new() { ["app"] = "db" });
        loner.Spec.Affinity = new V1Affinity { PodAntiAffinity = new V1PodAntiAffinity { RequiredDuringSchedulingIgnoredDuringExecution = [new V1PodAffinityTerm { TopologyKey = "kubernetes.io/hostname", LabelSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "db" } } }] } };
        _cache.AddOrUpdatePod(loner);
        var refused = _cache.Schedule(_scheduler, SchedulingPod.From(Pod("db-2", labels: new() { ["app"] = "db" })));

        _cache.RemovePod("default/loner");

        refused.Message.Should().StartWith("0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.");
        _cache.Schedule(_scheduler, SchedulingPod.From(Pod("db-3", labels: new() { ["app"] = "db" }))).NodeName.Should().Be("n1");
    }

    [Fact]
    public void A_nominated_pod_holds_the_room_on_its_node_against_others_until_it_is_tried_again()
    {
        _cache.AddOrUpdateNode(Node("n1", cpu: "1"));
        var urgent = SchedulingPod.From(Pod("urgent", cpu: "1")) with { Priority = 100, NominatedNodeName = "n1" };
        _cache.Nominate(urgent, "n1");

        var other = _cache.Schedule(_scheduler, SchedulingPod.From(Pod("other", cpu: "500m")));
        var itself = _cache.Schedule(_scheduler, urgent);

        other.Scheduled.Should().BeFalse("the room is held for the nominated pod");
        itself.NodeName.Should().Be("n1", "its own nomination is lifted when it is tried again");
        _cache.FindNode("n1")!.Requested.MilliCpu.Should().Be(1000);
    }
}
