using Orchestration.Scheduling;
using static Orchestration.Core.Tests.Scheduling.SchedulingTestObjects;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>The PodTopologySpread plugin through the default scheduler.</summary>
[Trait("Category", "Unit")]
public sealed class PodTopologySpreadTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Do_not_schedule_keeps_zones_within_max_skew(bool indexed)
    {
        var nodes = Nodes(indexed, Node("a1", "a"), Node("a2", "a"), Node("b1", "b"), Node("c1", "c"));
        var scheduler = DefaultScheduler.CreateDefault();

        var placed = Enumerable.Range(0, 6).Select(i => scheduler.Schedule(Pod($"web-{i}", "web", spec: Spread("web")), nodes).NodeName!).ToList();

        placed.GroupBy(n => n[0]).Select(g => g.Count()).Should().BeEquivalentTo([2, 2, 2], "with maxSkew 1 no zone gets a third pod before every zone has two");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_node_whose_zone_would_be_too_skewed_is_refused_with_kube_schedulers_reason(bool indexed)
    {
        var full = Node("b1", "b", milliCpu: 100);
        var nodes = Nodes(indexed, Node("a1", "a"), full);
        nodes[0].Add(Pod("web-0", "web"));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("web-1", "web", milliCpu: 200, spec: Spread("web")), nodes);

        result.Message.Should().StartWith("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match pod topology spread constraints.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Nodes_without_the_topology_key_are_refused_as_missing_the_label_and_preemption_does_not_help(bool indexed)
    {
        var nodes = Nodes(indexed, Node("plain"));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("web", "web", spec: Spread("web")), nodes);

        result.Message.Should().Be("0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fewer_domains_than_min_domains_count_the_global_minimum_as_zero(bool indexed)
    {
        var nodes = Nodes(indexed, Node("a1", "a"), Node("b1", "b"));
        nodes[0].Add(Pod("web-0", "web"));
        nodes[1].Add(Pod("web-1", "web"));
        var scheduler = DefaultScheduler.CreateDefault();

        var withoutMinDomains = scheduler.Schedule(Pod("web-2", "web", spec: Spread("web")), nodes);
        var withMinDomains = scheduler.Schedule(Pod("web-3", "web", spec: Spread("web", minDomains: 3)), nodes);

        withoutMinDomains.Scheduled.Should().BeTrue("both zones hold one pod, so a second in either makes the skew 1");
        withMinDomains.Message.Should().StartWith("0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints.", "two zones are fewer than minDomains 3, so the minimum counts as 0 and any zone's skew would be 2");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Schedule_anyway_prefers_the_zone_with_fewer_matching_pods_but_never_refuses(bool indexed)
    {
        var nodes = Nodes(indexed, Node("a1", "a"), Node("b1", "b"));
        nodes[0].Add(Pod("web-0", "web"));
        nodes[0].Add(Pod("web-1", "web"));
        // Zone b's only node has no room, so the only fit, a2, makes zone a's skew 3.
        var crowded = Nodes(indexed, Node("a2", "a"), Node("b2", "b", milliCpu: 50));
        crowded[0].Add(Pod("web-2", "web"));
        crowded[0].Add(Pod("web-5", "web"));
        var scheduler = DefaultScheduler.CreateDefault();

        var preferred = scheduler.Schedule(Pod("web-3", "web", spec: Spread("web", whenUnsatisfiable: "ScheduleAnyway")), nodes);
        var anyway = scheduler.Schedule(Pod("web-4", "web", spec: Spread("web", maxSkew: 1, whenUnsatisfiable: "ScheduleAnyway")), crowded);

        preferred.NodeName.Should().Be("b1");
        anyway.NodeName.Should().Be("a2", "ScheduleAnyway only scores; DoNotSchedule would refuse a2");
    }
}
