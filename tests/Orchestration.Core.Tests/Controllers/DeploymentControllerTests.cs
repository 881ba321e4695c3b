using k8s.Models;
using Orchestration.Client;
using Orchestration.Controllers.Apps;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>The Deployment controller with the ReplicaSet controller, over the in-memory store and a fake clock.</summary>
[Trait("Category", "Unit")]
public sealed class DeploymentControllerTests : IAsyncLifetime
{
    private readonly WorkloadHarness _h = new();

    public Task InitializeAsync() => _h.InitializeAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    private async Task CreateAsync(int replicas, string image, V1DeploymentStrategy? strategy = null, int? historyLimit = null, int? deadline = null) =>
        await _h.Client.CreateAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default" },
            Spec = new V1DeploymentSpec
            {
                Replicas = replicas,
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "web" } },
                Template = WorkloadHarness.Template("web", image),
                Strategy = strategy,
                RevisionHistoryLimit = historyLimit,
                ProgressDeadlineSeconds = deadline,
            },
        });

    private async Task SetImageAsync(string image) =>
        await _h.Client.PatchAsync<V1Deployment>("default", "web", new ObjectPatch(PatchKind.Merge, "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"" + image + "\"}]}}}}"));

    private async Task ReadyAllAsync()
    {
        foreach (var pod in await _h.PodsAsync())
        {
            await _h.SetPodAsync(pod, "Running", ready: true);
        }
    }

    private async Task RollOutAsync()
    {
        for (var i = 0; i < 20; i++)
        {
            await _h.SyncDeploymentAsync();
            await ReadyAllAsync();
        }

        await _h.SyncDeploymentAsync();
    }

    private async Task<V1Deployment> DeploymentAsync() => await _h.Client.GetAsync<V1Deployment>("default", "web");

    [Fact]
    public async Task A_new_deployment_gets_one_replica_set_named_by_its_template_hash_and_reports_complete_status()
    {
        await CreateAsync(3, "busybox:1");
        await RollOutAsync();

        var sets = await _h.ReplicaSetListAsync();
        var rs = sets.Should().ContainSingle().Subject;
        var hash = rs.Metadata.Labels[DeploymentController.PodTemplateHashLabel];
        rs.Metadata.Name.Should().Be($"web-{hash}");
        rs.Spec.Selector.MatchLabels[DeploymentController.PodTemplateHashLabel].Should().Be(hash);
        rs.Metadata.Annotations[DeploymentController.RevisionAnnotation].Should().Be("1");
        (await _h.PodsAsync()).Should().HaveCount(3).And.AllSatisfy(p => p.Metadata.Labels[DeploymentController.PodTemplateHashLabel].Should().Be(hash));
        var d = await DeploymentAsync();
        d.Status.Replicas.Should().Be(3);
        d.Status.UpdatedReplicas.Should().Be(3);
        d.Status.AvailableReplicas.Should().Be(3);
        d.Status.ObservedGeneration.Should().Be(d.Metadata.Generation);
        d.Status.Conditions.Should().Contain(c => c.Type == "Available" && c.Status == "True" && c.Reason == "MinimumReplicasAvailable");
        d.Status.Conditions.Should().Contain(c => c.Type == "Progressing" && c.Status == "True" && c.Reason == "NewReplicaSetAvailable");
        d.Metadata.Annotations[DeploymentController.RevisionAnnotation].Should().Be("1");
    }

    [Fact]
    public async Task A_rolling_update_never_exceeds_max_surge_nor_drops_below_the_available_minimum()
    {
        var strategy = new V1DeploymentStrategy { Type = "RollingUpdate", RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = "1", MaxUnavailable = "1" } };
        await CreateAsync(4, "busybox:1", strategy);
        await RollOutAsync();
        await SetImageAsync("busybox:2");

        for (var step = 0; step < 30; step++)
        {
            await _h.SyncDeploymentAsync();
            var pods = await _h.PodsAsync();
            pods.Count.Should().BeLessThanOrEqualTo(5, "replicas 4 + maxSurge 1");
            pods.Count(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true).Should().BeGreaterThanOrEqualTo(3, "replicas 4 - maxUnavailable 1");

            // One new pod becomes ready per step, as a slow node would start them.
            var waiting = pods.FirstOrDefault(p => p.Status?.Conditions is null || p.Status.Conditions.All(c => c.Status != "True"));
            if (waiting is not null)
            {
                await _h.SetPodAsync(waiting, "Running", ready: true);
            }
        }

        (await _h.PodsAsync()).Should().HaveCount(4).And.AllSatisfy(p => p.Spec.Containers[0].Image.Should().Be("busybox:2"));
        var d = await DeploymentAsync();
        d.Status.UpdatedReplicas.Should().Be(4);
        d.Metadata.Annotations[DeploymentController.RevisionAnnotation].Should().Be("2");
    }

    [Fact]
    public async Task Recreate_scales_the_old_pods_to_zero_before_the_new_replica_set_gets_any()
    {
        await CreateAsync(3, "busybox:1", new V1DeploymentStrategy { Type = "Recreate" });
        await RollOutAsync();
        await SetImageAsync("busybox:2");

        await _h.SyncDeploymentAsync();
        var pods = await _h.PodsAsync();

        pods.Should().BeEmpty("the old pods go first and no new ReplicaSet starts while any is left");
        await RollOutAsync();
        (await _h.PodsAsync()).Should().HaveCount(3).And.AllSatisfy(p => p.Spec.Containers[0].Image.Should().Be("busybox:2"));
    }

    [Fact]
    public async Task Going_back_to_an_old_template_reuses_its_replica_set_under_the_next_revision()
    {
        await CreateAsync(2, "busybox:1");
        await RollOutAsync();
        var first = (await _h.ReplicaSetListAsync()).Single().Metadata.Name;
        await SetImageAsync("busybox:2");
        await RollOutAsync();
        await SetImageAsync("busybox:1");
        await RollOutAsync();

        var sets = await _h.ReplicaSetListAsync();
        sets.Should().HaveCount(2, "the rollback found the first ReplicaSet");
        var active = sets.Single(rs => rs.Spec.Replicas > 0);
        active.Metadata.Name.Should().Be(first);
        active.Metadata.Annotations[DeploymentController.RevisionAnnotation].Should().Be("3");
        (await DeploymentAsync()).Metadata.Annotations[DeploymentController.RevisionAnnotation].Should().Be("3");
    }

    [Fact]
    public async Task Old_replica_sets_beyond_the_revision_history_limit_are_deleted_oldest_first()
    {
        await CreateAsync(1, "busybox:1", historyLimit: 1);
        await RollOutAsync();
        await SetImageAsync("busybox:2");
        await RollOutAsync();
        await SetImageAsync("busybox:3");
        await RollOutAsync();

        var revisions = (await _h.ReplicaSetListAsync()).Select(rs => rs.Metadata.Annotations[DeploymentController.RevisionAnnotation]).ToList();
        revisions.Should().BeEquivalentTo(["2", "3"], "the current set and one old one are kept");
    }

    [Fact]
    public async Task A_paused_deployment_makes_no_new_replica_set_but_still_scales()
    {
        await CreateAsync(2, "busybox:1");
        await RollOutAsync();
        await _h.Client.PatchAsync<V1Deployment>("default", "web", new ObjectPatch(PatchKind.Merge, "{\"spec\":{\"paused\":true,\"replicas\":5}}"));
        await SetImageAsync("busybox:2");
        await RollOutAsync();

        (await _h.ReplicaSetListAsync()).Should().ContainSingle();
        (await _h.PodsAsync()).Should().HaveCount(5).And.AllSatisfy(p => p.Spec.Containers[0].Image.Should().Be("busybox:1"));
        (await DeploymentAsync()).Status.Conditions.Should().Contain(c => c.Type == "Progressing" && c.Reason == "DeploymentPaused");

        await _h.Client.PatchAsync<V1Deployment>("default", "web", new ObjectPatch(PatchKind.Merge, "{\"spec\":{\"paused\":false}}"));
        await RollOutAsync();
        (await _h.PodsAsync()).Should().HaveCount(5).And.AllSatisfy(p => p.Spec.Containers[0].Image.Should().Be("busybox:2"));
    }

    [Fact]
    public async Task A_rollout_without_progress_past_its_deadline_is_marked_progress_deadline_exceeded()
    {
        await CreateAsync(2, "busybox:1", deadline: 10);
        await _h.SyncDeploymentAsync();
        (await DeploymentAsync()).Status.Conditions.Should().Contain(c => c.Type == "Progressing" && c.Status == "True");

        _h.Clock.Advance(TimeSpan.FromSeconds(11));
        var result = await _h.Deployments.ReconcileAsync(new("default", "web"), CancellationToken.None);

        var progressing = (await DeploymentAsync()).Status.Conditions.Single(c => c.Type == "Progressing");
        progressing.Status.Should().Be("False");
        progressing.Reason.Should().Be("ProgressDeadlineExceeded");
        result.RequeueAfter.Should().BeNull("a timed-out rollout waits for a change, not the clock");
    }

    [Fact]
    public async Task Scaling_in_the_middle_of_a_rollout_shares_the_new_replicas_in_proportion()
    {
        var strategy = new V1DeploymentStrategy { Type = "RollingUpdate", RollingUpdate = new V1RollingUpdateDeployment { MaxSurge = "0", MaxUnavailable = "5" } };
        await CreateAsync(10, "busybox:1", strategy);
        await RollOutAsync();
        await SetImageAsync("busybox:2");
        await _h.SyncDeploymentAsync();
        var before = (await _h.ReplicaSetListAsync()).Select(rs => rs.Spec.Replicas).ToList();
        before.Should().BeEquivalentTo(new int?[] { 5, 5 }, "half the old pods made room for half the new");

        await _h.Client.PatchAsync<V1Deployment>("default", "web", new ObjectPatch(PatchKind.Merge, "{\"spec\":{\"replicas\":20}}"));
        await _h.Deployments.ReconcileAsync(new("default", "web"), CancellationToken.None);

        (await _h.ReplicaSetListAsync()).Select(rs => rs.Spec.Replicas).Should().BeEquivalentTo(new int?[] { 10, 10 }, "each set grows by its share");
    }
}
