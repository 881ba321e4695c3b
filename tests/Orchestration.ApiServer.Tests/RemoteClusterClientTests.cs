using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.TestKit.Conformance;

namespace Orchestration.ApiServer.Tests;

/// <summary>The client conformance kit against the remote client, over HTTPS to a real API server.</summary>
[Trait("Category", "Integration")]
public sealed class RemoteClusterClientTests : ClusterClientConformanceTests
{
    protected override async Task<ClusterClientHarness> StartAsync(FakeTimeProvider clock)
    {
        var server = await TestApiServer.StartAsync(clock);
        var client = server.Client();
        return new ClusterClientHarness(client, server.Store, new Owner(server, client));
    }

    [Fact]
    public async Task A_server_that_cannot_be_reached_is_skipped_for_the_next_one()
    {
        await using var server = await TestApiServer.StartAsync(Clock);
        var dead = $"https://127.0.0.1:{Testing.Daemons.FreePorts.Next()}";
        using var client = server.Client(dead, server.Url);

        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "failover" } });

        (await client.GetAsync<V1Namespace>(null, "failover")).Metadata.Name.Should().Be("failover");
    }

    [Fact]
    public async Task When_no_server_can_be_reached_the_error_is_service_unavailable()
    {
        using var client = new RemoteClusterClient(
            new RemoteClusterClientOptions { Servers = { $"https://127.0.0.1:{Testing.Daemons.FreePorts.Next()}" } },
            Resources.ResourceKindTable.CreateDefault());

        var thrown = await client.Invoking(c => c.GetAsync<V1Namespace>(null, "x")).Should().ThrowAsync<ClusterApiException>();

        thrown.Which.Code.Should().Be(503);
    }

    private sealed class Owner(TestApiServer server, RemoteClusterClient client) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await server.DisposeAsync();
        }
    }
}
