using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Apps;
using Orchestration.Events;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>The ReplicaSet controller, one reconcile at a time, over the in-memory store.</summary>
[Trait("Category", "Unit")]
public sealed class ReplicaSetControllerTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStateStore _store;
    private readonly LocalClusterClient _client;
    private readonly ReplicaSetController _controller;
    private readonly ObjectKey _key = new("default", "web");

    public ReplicaSetControllerTests()
    {
        _store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }, _clock);
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), _clock));
        _controller = new ReplicaSetController(_client, new EventRecorder(_client, _clock), _clock, NullLogger<ReplicaSetController>.Instance);
    }

    public async Task InitializeAsync() => await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private async Task<V1ReplicaSet> CreateAsync(int replicas)
    {
        var labels = new Dictionary<string, string> { ["app"] = "web" };
        return await _client.CreateAsync(new V1ReplicaSet
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default" },
            Spec = new V1ReplicaSetSpec
            {
                Replicas = replicas,
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec { Metadata = new V1ObjectMeta { Labels = labels }, Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] } },
            },
        });
    }

    private async Task<IReadOnlyList<V1Pod>> PodsAsync() => (await _client.ListAsync<V1Pod>("default")).Items;

    private async Task ScaleAsync(int replicas) =>
        await _client.PatchAsync<V1ReplicaSet>("default", "web", new ObjectPatch(PatchKind.Merge, "{\"spec\":{\"replicas\":" + replicas + "}}"));

    [Fact]
    public async Task Missing_pods_are_created_from_the_template_and_owned_by_the_replica_set()
    {
        var rs = await CreateAsync(3);

        await _controller.ReconcileAsync(_key, CancellationToken.None);
        await _controller.ReconcileAsync(_key, CancellationToken.None);

        var pods = await PodsAsync();
        pods.Should().HaveCount(3, "a second reconcile sees the pods of the first and creates none");
        pods.Should().AllSatisfy(p =>
        {
            p.Metadata.Name.Should().StartWith("web-");
            p.Metadata.Labels["app"].Should().Be("web");
            p.Metadata.OwnerReferences.Single().Uid.Should().Be(rs.Metadata.Uid);
            p.Metadata.OwnerReferences.Single().Controller.Should().BeTrue();
        });
        var status = (await _client.GetAsync<V1ReplicaSet>("default", "web")).Status;
        status.Replicas.Should().Be(3);
        status.ReadyReplicas.Should().Be(0);
        status.ObservedGeneration.Should().Be(1);
    }

    [Fact]
    public async Task Extra_pods_go_unscheduled_first_and_a_deleted_pod_is_replaced()
    {
        await CreateAsync(3);
        await _controller.ReconcileAsync(_key, CancellationToken.None);
        var pods = await PodsAsync();
        foreach (var pod in pods.Take(2))
        {
            pod.Spec.NodeName = "n1";
            await _client.UpdateAsync(pod);
        }

        await ScaleAsync(2);
        await _controller.ReconcileAsync(_key, CancellationToken.None);
        var left = await PodsAsync();
        await _client.DeleteAsync<V1Pod>("default", left[0].Metadata.Name);
        await _controller.ReconcileAsync(_key, CancellationToken.None);

        left.Should().HaveCount(2).And.AllSatisfy(p => p.Spec.NodeName.Should().Be("n1", "the unscheduled pod was the one to go"));
        (await PodsAsync()).Should().HaveCount(2, "the deleted pod was replaced");
        (await _client.GetAsync<V1ReplicaSet>("default", "web")).Status.Replicas.Should().Be(2);
    }

    [Fact]
    public async Task Ready_pods_are_counted_and_pods_of_others_are_left_alone()
    {
        await CreateAsync(1);
        await _client.CreateAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "stranger", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["app"] = "web" } },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] },
        });
        await _controller.ReconcileAsync(_key, CancellationToken.None);
        var owned = (await PodsAsync()).Single(p => p.Metadata.Name != "stranger");
        owned.Status.Phase = "Running";
        owned.Status.Conditions = [new V1PodCondition { Type = "Ready", Status = "True" }];
        await _client.UpdateStatusAsync(owned);

        await _controller.ReconcileAsync(_key, CancellationToken.None);

        (await PodsAsync()).Should().HaveCount(2, "a pod the ReplicaSet does not own is not counted, adopted or deleted");
        var status = (await _client.GetAsync<V1ReplicaSet>("default", "web")).Status;
        status.Replicas.Should().Be(1);
        status.ReadyReplicas.Should().Be(1);
        status.AvailableReplicas.Should().Be(1);
    }

    [Fact]
    public async Task With_running_informers_pods_come_from_the_cache_and_a_reconcile_before_it_catches_up_creates_no_extra_pods()
    {
        var context = new ControllerContext();
        var informers = new Orchestration.Informers.InformerFactory(_client, TimeProvider.System);
        var podInformer = informers.For<V1Pod>();
        context.Informers = informers;
        using var stop = new CancellationTokenSource();
        var running = informers.RunAsync(stop.Token);
        await podInformer.WaitForSyncAsync(CancellationToken.None);
        var controller = new ReplicaSetController(_client, new EventRecorder(_client, _clock), _clock, NullLogger<ReplicaSetController>.Instance, context);
        await CreateAsync(3);

        // Back to back: the second reconcile runs before (or while) the cache learns of the first's pods.
        await controller.ReconcileAsync(_key, CancellationToken.None);
        await controller.ReconcileAsync(_key, CancellationToken.None);
        var seen = await Orchestration.TestKit.Eventually.HoldsAsync(() => podInformer.Cache.Count == 3, 50, TimeSpan.FromMilliseconds(20));
        await controller.ReconcileAsync(_key, CancellationToken.None);

        seen.Should().BeTrue();
        (await PodsAsync()).Should().HaveCount(3, "pods created but not yet cached count as there");
        var doomed = (await PodsAsync())[0];
        await _client.DeleteAsync<V1Pod>("default", doomed.Metadata.Name);
        (await Orchestration.TestKit.Eventually.HoldsAsync(() => podInformer.Cache.Count == 2, 50, TimeSpan.FromMilliseconds(20))).Should().BeTrue();
        await controller.ReconcileAsync(_key, CancellationToken.None);
        (await PodsAsync()).Should().HaveCount(3, "a pod deleted by someone else is replaced once the cache shows it gone");
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task A_missing_replica_set_is_nothing_to_do()
    {
        (await _controller.ReconcileAsync(_key, CancellationToken.None)).Should().Be(ReconcileResult.Done);
        (await PodsAsync()).Should().BeEmpty();
    }
}
