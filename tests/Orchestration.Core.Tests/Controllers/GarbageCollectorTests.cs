using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Resources;
using Orchestration.State;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>The garbage collector over the in-memory store: the three propagation policies and owners it has not seen yet.</summary>
[Trait("Category", "Unit")]
public sealed class GarbageCollectorTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly GarbageCollector _collector;

    public GarbageCollectorTests()
    {
        var registry = new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System);
        _client = new LocalClusterClient(registry);
        _collector = new GarbageCollector(new LocalDynamicClusterClient(registry), Options.Create(new GarbageCollectorOptions { KindScanInterval = TimeSpan.FromMilliseconds(100) }), TimeProvider.System, NullLogger<GarbageCollector>.Instance);
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await _collector.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _collector.StopAsync(CancellationToken.None);
        _collector.Dispose();
        await _store.DisposeAsync();
    }

    private async Task<V1ConfigMap> CreateAsync(string name, V1ConfigMap? owner = null) =>
        await _client.CreateAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                OwnerReferences = owner is null ? null : [new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = owner.Metadata.Name, Uid = owner.Metadata.Uid }],
            },
        });

    private async Task<bool> ExistsAsync(string name)
    {
        try
        {
            await _client.GetAsync<V1ConfigMap>("default", name);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    private static Task<bool> EventuallyAsync(Func<Task<bool>> condition) => Eventually.HoldsAsync(condition, 100, TimeSpan.FromMilliseconds(50));

    [Fact]
    public async Task Background_deletion_removes_dependents_and_theirs_after_the_owner()
    {
        var owner = await CreateAsync("owner");
        var child = await CreateAsync("child", owner);
        await CreateAsync("grandchild", child);

        await _client.DeleteAsync<V1ConfigMap>("default", "owner");

        (await EventuallyAsync(async () => !await ExistsAsync("child") && !await ExistsAsync("grandchild"))).Should().BeTrue();
    }

    [Fact]
    public async Task Foreground_deletion_keeps_the_owner_until_its_dependents_are_gone()
    {
        var owner = await CreateAsync("owner");
        await CreateAsync("child", owner);

        var marked = await _client.DeleteAsync<V1ConfigMap>("default", "owner", new DeleteOptions { PropagationPolicy = "Foreground" });

        marked.Metadata.DeletionTimestamp.Should().NotBeNull();
        marked.Metadata.Finalizers.Should().Contain(ObjectRegistry.ForegroundDeletion);
        (await EventuallyAsync(async () => !await ExistsAsync("owner"))).Should().BeTrue();
        (await ExistsAsync("child")).Should().BeFalse();
    }

    [Fact]
    public async Task Orphan_deletion_releases_dependents_and_then_deletes_the_owner()
    {
        var owner = await CreateAsync("owner");
        await CreateAsync("child", owner);

        await _client.DeleteAsync<V1ConfigMap>("default", "owner", new DeleteOptions { PropagationPolicy = "Orphan" });

        (await EventuallyAsync(async () => !await ExistsAsync("owner"))).Should().BeTrue();
        var child = await _client.GetAsync<V1ConfigMap>("default", "child");
        (child.Metadata.OwnerReferences ?? []).Should().BeEmpty();
    }

    [Fact]
    public async Task A_dependent_keeps_living_while_one_of_its_owners_exists()
    {
        var first = await CreateAsync("first");
        var second = await CreateAsync("second");
        var shared = await _client.CreateAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta
            {
                Name = "shared",
                OwnerReferences =
                [
                    new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "first", Uid = first.Metadata.Uid },
                    new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "second", Uid = second.Metadata.Uid },
                ],
            },
        });

        await _client.DeleteAsync<V1ConfigMap>("default", "first");

        (await EventuallyAsync(async () => (await _client.GetAsync<V1ConfigMap>("default", "shared")).Metadata.OwnerReferences.Count == 1)).Should().BeTrue();
        (await _client.GetAsync<V1ConfigMap>("default", "shared")).Metadata.OwnerReferences.Single().Name.Should().Be("second");
        shared.Metadata.Uid.Should().Be((await _client.GetAsync<V1ConfigMap>("default", "shared")).Metadata.Uid);
    }
}
