using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Apps;
using Orchestration.Controllers.Batch;
using Orchestration.Events;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>
/// The workload controllers over the in-memory store and a fake clock, reconciled by hand; pods are
/// made Running, Ready, Succeeded or Failed by the test, as a node agent would.
/// </summary>
public sealed class WorkloadHarness : IAsyncDisposable
{
    private readonly InMemoryStateStore _store;

    public WorkloadHarness()
    {
        _store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }, Clock);
        Client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), Clock));
        var events = new EventRecorder(Client, Clock);
        ReplicaSets = new ReplicaSetController(Client, events, Clock, NullLogger<ReplicaSetController>.Instance);
        Deployments = new DeploymentController(Client, events, Clock, NullLogger<DeploymentController>.Instance);
        DaemonSets = new DaemonSetController(Client, events, Clock, NullLogger<DaemonSetController>.Instance);
        StatefulSets = new StatefulSetController(Client, events, NullLogger<StatefulSetController>.Instance);
        Jobs = new JobController(Client, events, Clock, NullLogger<JobController>.Instance);
    }

    public FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));

    public LocalClusterClient Client { get; }

    public ReplicaSetController ReplicaSets { get; }

    public DeploymentController Deployments { get; }

    public DaemonSetController DaemonSets { get; }

    public StatefulSetController StatefulSets { get; }

    public JobController Jobs { get; }

    public async Task InitializeAsync() => await Client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });

    public ValueTask DisposeAsync() => _store.DisposeAsync();

    public static V1PodTemplateSpec Template(string app, string image) => new()
    {
        Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = app } },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = image }], RestartPolicy = null },
    };

    public async Task<List<V1Pod>> PodsAsync() =>
        (await Client.ListAsync<V1Pod>("default")).Items.Where(p => p.Metadata.DeletionTimestamp is null).ToList();

    public async Task<List<V1ReplicaSet>> ReplicaSetListAsync() => (await Client.ListAsync<V1ReplicaSet>("default")).Items.ToList();

    /// <summary>Sets a pod's phase, and Ready when <paramref name="ready"/>.</summary>
    public async Task SetPodAsync(V1Pod pod, string phase, bool ready)
    {
        var current = await Client.GetAsync<V1Pod>("default", pod.Metadata.Name);
        current.Status ??= new V1PodStatus();
        current.Status.Phase = phase;
        current.Status.Conditions = [new V1PodCondition { Type = "Ready", Status = ready ? "True" : "False", LastTransitionTime = Clock.GetUtcNow().UtcDateTime }];
        await Client.UpdateStatusAsync(current);
    }

    /// <summary>Runs the Deployment controller, then the ReplicaSet controller on every ReplicaSet.</summary>
    public async Task SyncDeploymentAsync(string name = "web")
    {
        await Deployments.ReconcileAsync(new ObjectKey("default", name), CancellationToken.None);
        foreach (var rs in await ReplicaSetListAsync())
        {
            await ReplicaSets.ReconcileAsync(new ObjectKey("default", rs.Metadata.Name), CancellationToken.None);
        }

        await Deployments.ReconcileAsync(new ObjectKey("default", name), CancellationToken.None);
    }
}
