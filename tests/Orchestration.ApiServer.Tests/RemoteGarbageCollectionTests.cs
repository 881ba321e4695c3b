using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.TestKit;

namespace Orchestration.ApiServer.Tests;

/// <summary>The garbage collector and the namespace controller in a process of their own: over the remote client, against a real API server.</summary>
[Trait("Category", "Integration")]
public sealed class RemoteGarbageCollectionTests
{
    private static readonly IOptions<GarbageCollectorOptions> Options = Microsoft.Extensions.Options.Options.Create(new GarbageCollectorOptions { KindScanInterval = TimeSpan.FromMilliseconds(200), RetryDelay = TimeSpan.FromMilliseconds(100) });

    [Fact]
    public async Task Dependents_of_a_deleted_owner_are_collected_and_a_deleted_namespace_is_emptied_through_the_api()
    {
        await using var server = await TestApiServer.StartAsync(new FakeTimeProvider(DateTimeOffset.UtcNow));
        using var client = server.Client();
        using var collector = new GarbageCollector(client, Options, TimeProvider.System, NullLogger<GarbageCollector>.Instance);
        using var namespaces = new NamespaceController(client, Options, TimeProvider.System, NullLogger<NamespaceController>.Instance);
        await collector.StartAsync(CancellationToken.None);
        await namespaces.StartAsync(CancellationToken.None);
        try
        {
            await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "gc" } });
            var owner = await client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "owner", NamespaceProperty = "gc" } });
            await client.CreateAsync(new V1ConfigMap
            {
                Metadata = new V1ObjectMeta
                {
                    Name = "dependent",
                    NamespaceProperty = "gc",
                    OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = "owner", Uid = owner.Metadata.Uid }],
                },
            });

            await client.DeleteAsync<V1ConfigMap>("gc", "owner");
            var collected = await Eventually.HoldsAsync(async () => (await client.ListAsync<V1ConfigMap>("gc")).Items.Count == 0, 100, TimeSpan.FromMilliseconds(100));
            collected.Should().BeTrue("the dependent's only owner is gone");

            await client.CreateAsync(new V1Secret { Metadata = new V1ObjectMeta { Name = "left", NamespaceProperty = "gc" } });
            await client.DeleteAsync<V1Namespace>(null, "gc");
            var gone = await Eventually.HoldsAsync(async () =>
            {
                try
                {
                    await client.GetAsync<V1Namespace>(null, "gc");
                    return false;
                }
                catch (NotFoundException)
                {
                    return true;
                }
            }, 100, TimeSpan.FromMilliseconds(100));
            gone.Should().BeTrue("the namespace controller empties the namespace, then finalizes it");
        }
        finally
        {
            await collector.StopAsync(CancellationToken.None);
            await namespaces.StopAsync(CancellationToken.None);
        }
    }
}
