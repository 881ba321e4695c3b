using System.Text;
using Orchestration.Testing.Daemons;

namespace Orchestration.State.Etcd.Tests;

/// <summary>What only the etcd store must do: say clearly when the cluster cannot be reached.</summary>
[Trait("Category", "Integration")]
public sealed class EtcdStateStoreTests
{
    [Fact]
    public async Task An_unreachable_cluster_is_a_clear_unavailable_error()
    {
        await using var store = new EtcdStateStore(new EtcdStateStoreOptions
        {
            Endpoints = [$"http://127.0.0.1:{FreePorts.Next()}"],
            RequestTimeout = TimeSpan.FromSeconds(3),
        });

        var thrown = await store.Invoking(s => s.CreateAsync("/x", Encoding.UTF8.GetBytes("1")).AsTask()).Should().ThrowAsync<StoreUnavailableException>();
        thrown.WithMessage("*etcd (http://127.0.0.1:*) did not answer*");
    }

    [Fact]
    public void An_endpoint_that_is_not_an_http_url_is_refused()
    {
        var open = () => new EtcdStateStore(new EtcdStateStoreOptions { Endpoints = ["127.0.0.1:2379"] });

        open.Should().Throw<InvalidStateRequestException>().WithMessage("*not an etcd client URL*");
    }

    [Fact]
    public async Task Writes_fail_over_to_another_member_when_the_first_is_gone()
    {
        await using var etcd = await EtcdServer.StartAsync();
        await using var store = new EtcdStateStore(new EtcdStateStoreOptions
        {
            Endpoints = [$"http://127.0.0.1:{FreePorts.Next()}", etcd.ClientUrl],
            RequestTimeout = TimeSpan.FromSeconds(10),
        });

        var write = await store.CreateAsync("/failover", Encoding.UTF8.GetBytes("ok"));

        write.Succeeded.Should().BeTrue();
    }
}
