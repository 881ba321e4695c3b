using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Resources;

/// <summary>The registry's optional graceful deletion of pods on nodes (ObjectRegistry.GracefulPodDeletion).</summary>
[Trait("Category", "Unit")]
public sealed class GracefulPodDeletionTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;

    public GracefulPodDeletionTests() =>
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), _time) { GracefulPodDeletion = true });

    public async Task InitializeAsync() => await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private Task<V1Pod> CreateAsync(string name, string? node, long? grace = null) => _client.CreateAsync(new V1Pod
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1PodSpec { NodeName = node, TerminationGracePeriodSeconds = grace, Containers = [new V1Container { Name = "a", Image = "busybox" }] },
    });

    private async Task<bool> ExistsAsync(string name)
    {
        try
        {
            await _client.GetAsync<V1Pod>("default", name);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_pod_on_a_node_is_marked_with_its_grace_period_and_stays_through_status_updates()
    {
        await CreateAsync("bound", "n1", grace: 45);

        var marked = await _client.DeleteAsync<V1Pod>("default", "bound");
        marked.Status = new V1PodStatus { Phase = "Failed" };
        await _client.UpdateStatusAsync(marked);

        marked.Metadata.DeletionGracePeriodSeconds.Should().Be(45);
        marked.Metadata.DeletionTimestamp.Should().Be(_time.GetUtcNow().UtcDateTime.AddSeconds(45));
        (await ExistsAsync("bound")).Should().BeTrue("only its node agent's delete with grace 0 removes it");
        await _client.DeleteAsync<V1Pod>("default", "bound", new DeleteOptions { GracePeriodSeconds = 0, PreconditionUid = marked.Metadata.Uid });
        (await ExistsAsync("bound")).Should().BeFalse();
    }

    [Fact]
    public async Task An_asked_grace_period_overrides_the_pods_own()
    {
        await CreateAsync("asked", "n1", grace: 45);

        var marked = await _client.DeleteAsync<V1Pod>("default", "asked", new DeleteOptions { GracePeriodSeconds = 5 });

        marked.Metadata.DeletionGracePeriodSeconds.Should().Be(5);
    }

    [Fact]
    public async Task An_unscheduled_pod_and_a_delete_with_grace_0_go_at_once()
    {
        await CreateAsync("unbound", null);
        await CreateAsync("forced", "n1");

        await _client.DeleteAsync<V1Pod>("default", "unbound");
        await _client.DeleteAsync<V1Pod>("default", "forced", new DeleteOptions { GracePeriodSeconds = 0 });

        (await ExistsAsync("unbound")).Should().BeFalse();
        (await ExistsAsync("forced")).Should().BeFalse();
    }
}
