using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>Namespace deletion: Terminating first, the contents deleted, then the namespace.</summary>
[Trait("Category", "Unit")]
public sealed class NamespaceControllerTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly NamespaceController _controller;

    public NamespaceControllerTests()
    {
        var registry = new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System);
        _client = new LocalClusterClient(registry);
        _controller = new NamespaceController(new LocalDynamicClusterClient(registry), Options.Create(new GarbageCollectorOptions { RetryDelay = TimeSpan.FromMilliseconds(50) }), TimeProvider.System, NullLogger<NamespaceController>.Instance);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _controller.StopAsync(CancellationToken.None);
        _controller.Dispose();
        await _store.DisposeAsync();
    }

    [Fact]
    public async Task A_deleted_namespace_terminates_refuses_content_and_goes_once_it_is_empty()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        await _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "a", NamespaceProperty = "team" } });
        await _client.CreateAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "b", NamespaceProperty = "team" } });

        var deleting = await _client.DeleteAsync<V1Namespace>(null, "team");
        var refused = await _client.Invoking(c => c.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "late", NamespaceProperty = "team" } })).Should().ThrowAsync<ForbiddenException>();
        await _controller.StartAsync(CancellationToken.None);
        var gone = false;
        for (var i = 0; i < 100 && !gone; i++)
        {
            await Task.Delay(50);
            gone = (await _client.ListAsync<V1Namespace>(null)).Items.All(n => n.Metadata.Name != "team");
        }

        deleting.Status.Phase.Should().Be("Terminating");
        deleting.Spec.Finalizers.Should().Equal("kubernetes");
        refused.Which.Code.Should().Be(403);
        gone.Should().BeTrue();
        (await _client.ListAsync<V1ConfigMap>("team")).Items.Should().BeEmpty();
        (await _client.ListAsync<V1Secret>("team")).Items.Should().BeEmpty();
    }
}
