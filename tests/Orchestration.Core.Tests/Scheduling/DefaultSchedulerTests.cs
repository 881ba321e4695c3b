using k8s.Models;
using Orchestration.Scheduling;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>The default scheduler and its plugins, in memory.</summary>
[Trait("Category", "Unit")]
public sealed class DefaultSchedulerTests
{
    private static SchedulingNode Node(string name, long milliCpu = 4000, long memory = 8L << 30, Dictionary<string, string>? labels = null, V1Taint[]? taints = null, bool cordoned = false, int maxPods = 110) =>
        new(name, new ResourceAmounts(milliCpu, memory), maxPods, labels, taints, cordoned);

    private static SchedulingPod Pod(string name, long milliCpu = 100, long memory = 64L << 20, Action<V1PodSpec>? spec = null)
    {
        var podSpec = new V1PodSpec
        {
            Containers =
            [
                new V1Container
                {
                    Name = "c",
                    Image = "busybox",
                    Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new($"{milliCpu}m"), ["memory"] = new($"{memory}") } },
                },
            ],
        };
        spec?.Invoke(podSpec);
        return SchedulingPod.From(new V1Pod { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" }, Spec = podSpec });
    }

    [Fact]
    public void A_pod_goes_where_its_requests_fit_and_the_node_accounts_for_it()
    {
        var nodes = new List<SchedulingNode> { Node("small", milliCpu: 200), Node("big", milliCpu: 2000) };

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("p", milliCpu: 500), nodes);

        result.NodeName.Should().Be("big");
        nodes[1].Requested.MilliCpu.Should().Be(500);
        nodes[1].PodCount.Should().Be(1);
    }

    [Fact]
    public void A_pod_that_fits_nowhere_gets_kube_schedulers_message_with_counts_per_reason()
    {
        var nodes = new List<SchedulingNode>
        {
            Node("a", milliCpu: 100),
            Node("b", milliCpu: 100),
            Node("c", taints: [new V1Taint { Key = "dedicated", Value = "gpu", Effect = "NoSchedule" }]),
        };

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("p", milliCpu: 500), nodes);

        result.Scheduled.Should().BeFalse();
        // kube-scheduler sorts the "count reason" strings, so "1 node(s)..." comes before "2 Insufficient...".
        result.Message.Should().Be("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.");
    }

    [Fact]
    public void Least_allocated_scoring_spreads_pods_over_equal_nodes()
    {
        var nodes = Enumerable.Range(0, 3).Select(i => Node($"n{i}")).ToList();
        var scheduler = DefaultScheduler.CreateDefault();

        var placed = Enumerable.Range(0, 6).Select(i => scheduler.Schedule(Pod($"p{i}", milliCpu: 500), nodes).NodeName).ToList();

        placed.GroupBy(n => n).Select(g => g.Count()).Should().AllBeEquivalentTo(2);
    }

    [Fact]
    public void Taints_need_tolerations_and_cordoned_nodes_take_nothing()
    {
        var taint = new V1Taint { Key = "dedicated", Value = "gpu", Effect = "NoSchedule" };
        var nodes = new List<SchedulingNode> { Node("gpu", taints: [taint]), Node("cordoned", cordoned: true) };
        var scheduler = DefaultScheduler.CreateDefault();

        var plain = scheduler.Schedule(Pod("plain"), nodes);
        var tolerant = scheduler.Schedule(Pod("tolerant", spec: s => s.Tolerations = [new V1Toleration { Key = "dedicated", OperatorProperty = "Equal", Value = "gpu", Effect = "NoSchedule" }]), nodes);

        plain.Message.Should().Contain("1 node(s) had untolerated taint {dedicated: gpu}").And.Contain("1 node(s) were unschedulable");
        tolerant.NodeName.Should().Be("gpu");
    }

    [Fact]
    public void Node_selectors_and_required_affinity_filter_and_preferred_affinity_decides()
    {
        var nodes = new List<SchedulingNode>
        {
            Node("ssd-a", labels: new() { ["disk"] = "ssd", ["zone"] = "a" }),
            Node("ssd-b", labels: new() { ["disk"] = "ssd", ["zone"] = "b" }),
            Node("hdd-b", labels: new() { ["disk"] = "hdd", ["zone"] = "b" }),
        };
        var scheduler = DefaultScheduler.CreateDefault();

        var selected = scheduler.Schedule(Pod("sel", spec: s => s.NodeSelector = new Dictionary<string, string> { ["disk"] = "hdd" }), nodes);
        var preferred = scheduler.Schedule(Pod("pref", spec: s => s.Affinity = new V1Affinity
        {
            NodeAffinity = new V1NodeAffinity
            {
                RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector { NodeSelectorTerms = [new V1NodeSelectorTerm { MatchExpressions = [new V1NodeSelectorRequirement { Key = "disk", OperatorProperty = "In", Values = ["ssd"] }] }] },
                PreferredDuringSchedulingIgnoredDuringExecution = [new V1PreferredSchedulingTerm { Weight = 50, Preference = new V1NodeSelectorTerm { MatchExpressions = [new V1NodeSelectorRequirement { Key = "zone", OperatorProperty = "In", Values = ["b"] }] } }],
            },
        }), nodes);
        var nowhere = scheduler.Schedule(Pod("none", spec: s => s.NodeSelector = new Dictionary<string, string> { ["disk"] = "nvme" }), nodes);

        selected.NodeName.Should().Be("hdd-b");
        preferred.NodeName.Should().Be("ssd-b");
        nowhere.Message.Should().StartWith("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.");
    }

    [Fact]
    public void Named_nodes_host_ports_and_pod_counts_are_respected()
    {
        var nodes = new List<SchedulingNode> { Node("a", maxPods: 1), Node("b") };
        var scheduler = DefaultScheduler.CreateDefault();
        static void HostPort(V1PodSpec s) => s.Containers[0].Ports = [new V1ContainerPort { ContainerPort = 80, HostPort = 8080 }];

        var named = scheduler.Schedule(Pod("named", spec: s => s.NodeName = "b"), nodes);
        var first = scheduler.Schedule(Pod("port1", spec: HostPort), nodes);
        var second = scheduler.Schedule(Pod("port2", spec: HostPort), nodes);

        named.NodeName.Should().Be("b");
        new[] { first.NodeName, second.NodeName }.Should().BeEquivalentTo(["a", "b"], "each node has one free 8080, and a holds one pod at most");
        scheduler.Schedule(Pod("more", spec: HostPort), nodes).Message.Should().StartWith("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports.", "each node reports the first filter that refused it, as kube-scheduler does");
    }

    [Theory]
    [InlineData(50, 50)]
    [InlineData(1000, 420)]
    [InlineData(5000, 500)]
    [InlineData(50000, 2500)]
    public void Enough_feasible_nodes_follow_kube_schedulers_adaptive_percentage(int nodes, int expected) =>
        DefaultScheduler.FeasibleNodesToFind(nodes).Should().Be(expected);
}
