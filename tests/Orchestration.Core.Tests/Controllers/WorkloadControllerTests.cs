using k8s.Models;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Apps;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>The Job, DaemonSet and StatefulSet controllers, reconciled by hand over the in-memory store and a fake clock.</summary>
[Trait("Category", "Unit")]
public sealed class WorkloadControllerTests : IAsyncLifetime
{
    private readonly WorkloadHarness _h = new();

    public Task InitializeAsync() => _h.InitializeAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private static readonly ObjectKey Key = new("default", "work");

    private async Task CreateJobAsync(int completions, int parallelism, int backoffLimit = 6)
    {
        var template = WorkloadHarness.Template("work", "busybox");
        template.Spec.RestartPolicy = "Never";
        await _h.Client.CreateAsync(new V1Job
        {
            Metadata = new V1ObjectMeta { Name = "work", NamespaceProperty = "default" },
            Spec = new V1JobSpec { Completions = completions, Parallelism = parallelism, BackoffLimit = backoffLimit, Template = template },
        });
    }

    private async Task<V1Job> JobAsync() => await _h.Client.GetAsync<V1Job>("default", "work");

    [Fact]
    public async Task A_job_runs_at_most_parallelism_pods_until_its_completions_succeed_then_is_complete()
    {
        await CreateJobAsync(completions: 3, parallelism: 2);
        var job = await JobAsync();
        job.Spec.Selector.MatchLabels.Should().ContainKey("batch.kubernetes.io/controller-uid").WhoseValue.Should().Be(job.Metadata.Uid);

        var maxActive = 0;
        for (var round = 0; round < 6; round++)
        {
            await _h.Jobs.ReconcileAsync(Key, CancellationToken.None);
            var running = (await _h.PodsAsync()).Where(p => p.Status?.Phase is null or "Pending" or "Running").ToList();
            maxActive = Math.Max(maxActive, running.Count);
            if (running.FirstOrDefault() is { } pod)
            {
                await _h.SetPodAsync(pod, "Succeeded", ready: false);
            }
        }

        await _h.Jobs.ReconcileAsync(Key, CancellationToken.None);
        job = await JobAsync();
        maxActive.Should().Be(2, "parallelism 2");
        job.Status.Succeeded.Should().Be(3);
        job.Status.Active.Should().Be(0);
        job.Status.CompletionTime.Should().NotBeNull();
        job.Status.Conditions.Should().Contain(c => c.Type == "Complete" && c.Status == "True");
        (await _h.PodsAsync()).Should().HaveCount(3, "exactly three pods ran");
    }

    [Fact]
    public async Task Failed_pods_are_replaced_after_a_growing_backoff_until_the_backoff_limit_fails_the_job()
    {
        await CreateJobAsync(completions: 1, parallelism: 1, backoffLimit: 1);
        await _h.Jobs.ReconcileAsync(Key, CancellationToken.None);
        await _h.SetPodAsync((await _h.PodsAsync()).Single(), "Failed", ready: false);

        var wait = await _h.Jobs.ReconcileAsync(Key, CancellationToken.None);
        (await _h.PodsAsync()).Count(p => p.Status?.Phase != "Failed").Should().Be(0, "the replacement waits for the back-off");
        wait.RequeueAfter.Should().NotBeNull();

        _h.Clock.Advance(TimeSpan.FromSeconds(11));
        await _h.Jobs.ReconcileAsync(Key, CancellationToken.None);
        var second = (await _h.PodsAsync()).Single(p => p.Status?.Phase != "Failed");
        await _h.SetPodAsync(second, "Failed", ready: false);
        await _h.Jobs.ReconcileAsync(Key, CancellationToken.None);

        var job = await JobAsync();
        job.Status.Failed.Should().Be(2);
        job.Status.Conditions.Should().Contain(c => c.Type == "Failed" && c.Reason == "BackoffLimitExceeded");
    }

    private async Task CreateNodeAsync(string name, V1Taint? taint = null, Dictionary<string, string>? labels = null) =>
        await _h.Client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name, Labels = labels }, Spec = new V1NodeSpec { Taints = taint is null ? null : [taint] } });

    [Fact]
    public async Task A_daemon_set_pins_one_pod_to_each_eligible_node_and_follows_new_nodes()
    {
        await CreateNodeAsync("a");
        await CreateNodeAsync("b", new V1Taint { Key = "dedicated", Value = "db", Effect = "NoSchedule" });
        await CreateNodeAsync("c", labels: new Dictionary<string, string> { ["disk"] = "ssd" });
        var template = WorkloadHarness.Template("work", "busybox");
        await _h.Client.CreateAsync(new V1DaemonSet
        {
            Metadata = new V1ObjectMeta { Name = "work", NamespaceProperty = "default" },
            Spec = new V1DaemonSetSpec { Selector = new V1LabelSelector { MatchLabels = template.Metadata.Labels }, Template = template },
        });

        await _h.DaemonSets.ReconcileAsync(Key, CancellationToken.None);
        await _h.DaemonSets.ReconcileAsync(Key, CancellationToken.None);
        var pods = await _h.PodsAsync();
        pods.Select(DaemonSetController.TargetNode).Should().BeEquivalentTo(["a", "c"], "the tainted node is skipped and a second reconcile adds nothing");
        pods.Should().AllSatisfy(p => p.Spec.Tolerations.Should().Contain(t => t.Key == "node.kubernetes.io/unreachable"));

        await CreateNodeAsync("d");
        await _h.DaemonSets.ReconcileAsync(Key, CancellationToken.None);
        (await _h.PodsAsync()).Select(DaemonSetController.TargetNode).Should().BeEquivalentTo(["a", "c", "d"]);
        (await _h.Client.GetAsync<V1DaemonSet>("default", "work")).Status.DesiredNumberScheduled.Should().Be(3);
    }

    [Fact]
    public async Task A_stateful_set_adds_pods_in_order_after_each_is_ready_and_removes_the_highest_first()
    {
        var template = WorkloadHarness.Template("work", "busybox");
        await _h.Client.CreateAsync(new V1StatefulSet
        {
            Metadata = new V1ObjectMeta { Name = "work", NamespaceProperty = "default" },
            Spec = new V1StatefulSetSpec { Replicas = 3, ServiceName = "work", Selector = new V1LabelSelector { MatchLabels = template.Metadata.Labels }, Template = template },
        });

        for (var i = 0; i < 3; i++)
        {
            await _h.StatefulSets.ReconcileAsync(Key, CancellationToken.None);
            await _h.StatefulSets.ReconcileAsync(Key, CancellationToken.None);
            var pods = await _h.PodsAsync();
            pods.Select(p => p.Metadata.Name).Should().BeEquivalentTo(Enumerable.Range(0, i + 1).Select(n => $"work-{n}"), "the next pod waits for the previous to be ready");
            await _h.SetPodAsync(pods.Single(p => p.Metadata.Name == $"work-{i}"), "Running", ready: true);
        }

        await _h.Client.PatchAsync<V1StatefulSet>("default", "work", new ObjectPatch(PatchKind.Merge, "{\"spec\":{\"replicas\":1}}"));
        await _h.StatefulSets.ReconcileAsync(Key, CancellationToken.None);
        (await _h.PodsAsync()).Select(p => p.Metadata.Name).Should().BeEquivalentTo(["work-0", "work-1"], "the highest ordinal goes first, one at a time");
        await _h.StatefulSets.ReconcileAsync(Key, CancellationToken.None);
        (await _h.PodsAsync()).Select(p => p.Metadata.Name).Should().BeEquivalentTo(["work-0"]);
    }
}
