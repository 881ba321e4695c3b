using Orchestration.Scheduling;
using static Orchestration.Core.Tests.Scheduling.SchedulingTestObjects;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>The InterPodAffinity plugin through the default scheduler.</summary>
[Trait("Category", "Unit")]
public sealed class InterPodAffinityTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Required_anti_affinity_on_hostname_puts_one_pod_per_node_then_refuses(bool indexed)
    {
        var nodes = Nodes(indexed, Node("n1"), Node("n2"));
        var scheduler = DefaultScheduler.CreateDefault();

        var first = scheduler.Schedule(Pod("db-0", "db", spec: AntiAffinity("db")), nodes);
        var second = scheduler.Schedule(Pod("db-1", "db", spec: AntiAffinity("db")), nodes);
        var third = scheduler.Schedule(Pod("db-2", "db", spec: AntiAffinity("db")), nodes);

        new[] { first.NodeName, second.NodeName }.Should().BeEquivalentTo(["n1", "n2"]);
        third.Message.Should().StartWith("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pods_already_placed_with_anti_affinity_keep_matching_pods_out_of_their_domain(bool indexedSnapshot)
    {
        var nodes = Nodes(indexedSnapshot, Node("n1", "a"), Node("n2", "b"));
        nodes[0].Add(Pod("loner", "loner", spec: AntiAffinity("web", key: "zone")));
        var scheduler = DefaultScheduler.CreateDefault();

        var web = scheduler.Schedule(Pod("web", "web"), nodes);
        var onlyA = scheduler.Schedule(Pod("web-a", "web", spec: s => s.NodeSelector = new Dictionary<string, string> { ["zone"] = "a" }), nodes);

        web.NodeName.Should().Be("n2");
        onlyA.Message.Should().StartWith("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't satisfy existing pods anti-affinity rules.");
    }

    [Fact]
    public void A_snapshot_forgets_the_anti_affinity_of_a_pod_that_left()
    {
        var snapshot = new NodeSnapshot([Node("n1", "a")]);
        var loner = Pod("loner", "loner", spec: AntiAffinity("web", key: "zone"));
        snapshot[0].Add(loner);
        var scheduler = DefaultScheduler.CreateDefault();

        var before = scheduler.Schedule(Pod("web-0", "web"), snapshot);
        snapshot[0].Remove(loner);
        var after = scheduler.Schedule(Pod("web-1", "web"), snapshot);

        before.Scheduled.Should().BeFalse();
        after.NodeName.Should().Be("n1");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Required_affinity_goes_to_the_zone_of_a_matching_pod_and_refuses_when_none_is_there(bool indexed)
    {
        var nodes = Nodes(indexed, Node("n1", "a"), Node("n2", "b"), Node("n3", "b"));
        nodes[1].Add(Pod("cache", "cache"));
        var scheduler = DefaultScheduler.CreateDefault();

        var placed = Enumerable.Range(0, 4).Select(i => scheduler.Schedule(Pod($"web-{i}", "web", spec: Affinity("cache")), nodes).NodeName).ToList();
        var lonely = scheduler.Schedule(Pod("api", "api", spec: Affinity("queue")), nodes);

        placed.Should().OnlyContain(n => n == "n2" || n == "n3");
        lonely.Message.Should().Be("0/3 nodes are available: 3 node(s) didn't match pod affinity rules. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_first_pod_of_a_group_that_wants_itself_may_go_anywhere(bool indexed)
    {
        var nodes = Nodes(indexed, Node("n1", "a"));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("web-0", "web", spec: Affinity("web")), nodes);

        result.NodeName.Should().Be("n1", "no pod matches the term yet, and the pod matches it itself");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Preferred_affinity_scores_the_zone_with_matching_pods_higher(bool indexed)
    {
        var nodes = Nodes(indexed, Node("n1", "a"), Node("n2", "b"));
        nodes[1].Add(Pod("cache", "cache"));

        var result = DefaultScheduler.CreateDefault().Schedule(Pod("web", "web", spec: PreferredAffinity("cache", weight: 100)), nodes);

        result.NodeName.Should().Be("n2", "least-allocated alone would pick the emptier n1");
    }
}
