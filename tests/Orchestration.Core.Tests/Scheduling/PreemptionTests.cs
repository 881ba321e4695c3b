using k8s.Models;
using Orchestration.Scheduling;
using static Orchestration.Core.Tests.Scheduling.SchedulingTestObjects;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>Priority-based preemption (the DefaultPreemption post-filter) through the default scheduler.</summary>
[Trait("Category", "Unit")]
public sealed class PreemptionTests
{
    [Fact]
    public void A_pod_that_fits_nowhere_is_nominated_where_the_fewest_lowest_priority_pods_make_room()
    {
        var n1 = Node("n1", milliCpu: 1000);
        var n2 = Node("n2", milliCpu: 1000);
        n1.Add(Pod("important", milliCpu: 600, priority: 50));
        n1.Add(Pod("small", milliCpu: 400, priority: 1));
        n2.Add(Pod("low-a", milliCpu: 500, priority: 10));
        n2.Add(Pod("low-b", milliCpu: 500, priority: 10));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("urgent", milliCpu: 400, priority: 100), [n1, n2]);

        result.Scheduled.Should().BeFalse();
        result.NominatedNodeName.Should().Be("n1", "its most important victim has priority 1 against n2's 10");
        result.Victims.Select(v => v.Name).Should().Equal("small");
        result.Message.Should().Be("0/2 nodes are available: 2 Insufficient cpu.", "kube-scheduler adds no preemption part when preemption found a node");
        n1.PodCount.Should().Be(2, "the node is left as it was: victims leave when they are really deleted");
    }

    [Fact]
    public void Only_as_many_victims_as_needed_are_chosen_the_least_important_first()
    {
        var node = Node("n1", milliCpu: 1000);
        node.Add(Pod("p5", milliCpu: 300, priority: 5));
        node.Add(Pod("p3", milliCpu: 300, priority: 3));
        node.Add(Pod("p1", milliCpu: 300, priority: 1));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("urgent", milliCpu: 500, priority: 100), [node]);

        result.Victims.Select(v => v.Name).Should().BeEquivalentTo(["p3", "p1"]);
    }

    [Fact]
    public void After_the_victims_leave_the_pod_goes_to_its_nominated_node()
    {
        var node = Node("n1", milliCpu: 1000);
        node.Add(Pod("low", milliCpu: 800, priority: 1));
        var scheduler = DefaultScheduler.CreateDefault();
        var urgent = Pod("urgent", milliCpu: 500, priority: 100);

        var first = scheduler.Schedule(urgent, [node]);
        foreach (var victim in first.Victims)
        {
            node.Remove(victim);
        }

        var second = scheduler.Schedule(urgent with { NominatedNodeName = first.NominatedNodeName }, [node]);

        second.NodeName.Should().Be("n1");
    }

    [Fact]
    public void Nothing_of_lower_priority_means_no_victims_and_unresolvable_nodes_are_not_helpful()
    {
        var full = Node("full", milliCpu: 1000);
        full.Add(Pod("peer", milliCpu: 1000, priority: 100));
        var tainted = Node("tainted", taints: [new V1Taint { Key = "dedicated", Value = "gpu", Effect = "NoSchedule" }]);

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("urgent", milliCpu: 500, priority: 100), [full, tainted]);

        result.NominatedNodeName.Should().BeNull();
        result.Message.Should().Be("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.");
    }

    [Fact]
    public void Preemption_policy_never_keeps_the_pod_from_evicting_anything()
    {
        var node = Node("n1", milliCpu: 1000);
        node.Add(Pod("low", milliCpu: 800, priority: 1));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("polite", milliCpu: 500, priority: 100, spec: s => s.PreemptionPolicy = "Never"), [node]);

        result.NominatedNodeName.Should().BeNull();
        result.Message.Should().Be("0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Evicting_a_pod_that_breaks_the_incoming_pods_anti_affinity_makes_room(bool indexed)
    {
        var nodes = Nodes(indexed, Node("n1"));
        nodes[0].Add(Pod("old-db", "db", priority: 1));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("db", "db", priority: 100, spec: AntiAffinity("db")), nodes);

        result.NominatedNodeName.Should().Be("n1");
        result.Victims.Select(v => v.Name).Should().Equal("old-db");
        nodes[0].Pods.Select(p => p.Name).Should().Equal(["old-db"], "the node is left as it was");
    }

    [Fact]
    public void A_pod_whose_victims_are_still_terminating_on_its_nominated_node_waits_instead_of_preempting_more()
    {
        var node = Node("n1", milliCpu: 1000);
        node.Add(Pod("leaving", milliCpu: 800, priority: 1) with { Terminating = true });
        node.Add(Pod("other", milliCpu: 200, priority: 1));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("urgent", milliCpu: 500, priority: 100) with { NominatedNodeName = "n1" }, [node]);

        result.NominatedNodeName.Should().BeNull();
        result.Message.Should().EndWith("preemption: not eligible due to a terminating pod on the nominated node.");
    }

    [Fact]
    public void A_pod_naming_an_unresolved_priority_class_counts_as_priority_zero()
    {
        var pod = SchedulingPod.From(new V1Pod { Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "default" }, Spec = new V1PodSpec { PriorityClassName = "high", Containers = [] } });

        pod.Priority.Should().Be(0);
    }
}
