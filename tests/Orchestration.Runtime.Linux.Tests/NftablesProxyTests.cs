using System.Net;
using System.Net.Sockets;
using System.Text;
using Orchestration.Networking;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>What only the nftables proxy shows: its table, a restart that keeps connections, failures that keep the rules.</summary>
[Trait("Category", "Integration")]
public sealed class NftablesProxyTests : IAsyncLifetime
{
    private TestNetwork _network = null!;
    private readonly CancellationTokenSource _stop = new();

    public async Task InitializeAsync() => _network = await TestNetwork.CreateAsync();

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await _network.DisposeAsync();
        _stop.Dispose();
    }

    [Fact]
    public async Task A_new_proxy_takes_over_the_table_without_dropping_an_established_connection()
    {
        using var first = NftablesProxyConformanceTests.NewProxy(_network);
        var table = OneService(TestNetwork.ServiceAddress(1), _network.EndpointAddresses[0]);
        using var listener = Listen(_network.EndpointAddresses[0], 8080);
        await first.SyncAsync(table, CancellationToken.None);
        using var client = await ConnectAsync(TestNetwork.ServiceAddress(1), 80);
        using var server = await listener.AcceptAsync();

        // The process that ran the first proxy is gone (killed): a new one starts with no memory of it.
        using var second = NftablesProxyConformanceTests.NewProxy(_network);
        await second.SyncAsync(table, CancellationToken.None);

        second.LastSync.Full.Should().BeTrue("a new proxy replaces the whole table at its first sync");
        await client.SendAsync("still here"u8.ToArray());
        var buffer = new byte[64];
        var read = await server.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(5));
        Encoding.ASCII.GetString(buffer, 0, read).Should().Be("still here");
    }

    [Fact]
    public async Task Clean_up_deletes_the_proxy_table_and_nothing_else()
    {
        await _network.RunAsync("/usr/sbin/nft", "add", "table", "ip", "someone-else");
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        await proxy.SyncAsync(OneService(TestNetwork.ServiceAddress(2), _network.EndpointAddresses[0]), CancellationToken.None);
        (await TablesAsync()).Should().Contain(["orch-proxy", "someone-else"]);

        await proxy.CleanUpAsync(CancellationToken.None);

        (await TablesAsync()).Should().Equal("someone-else");
    }

    [Fact]
    public async Task A_change_rewrites_only_the_service_that_changed()
    {
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        var ports = Enumerable.Range(1, 50).Select(i => Port($"svc-{i}", TestNetwork.ServiceAddress(i), _network.EndpointAddresses[0])).ToList();
        await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
        var fullLength = proxy.LastSync.ScriptLength;

        ports[7] = ports[7] with { ClusterEndpoints = [.. ports[7].ClusterEndpoints, new ServiceEndpoint(_network.EndpointAddresses[1], 8080, null)] };
        await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);

        proxy.LastSync.Full.Should().BeFalse();
        proxy.LastSync.ScriptLength.Should().BeLessThan(fullLength / 10, "one changed service out of fifty is a small transaction");
        var (_, ruleset) = await _network.RunAsync("/usr/sbin/nft", "list", "table", "ip", "orch-proxy");
        ruleset.Should().Contain("dnat to 10.244.0.3:8080", "the new endpoint is in the changed Service's chain");
    }

    [Fact]
    public async Task Missing_nftables_is_a_clear_error()
    {
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network, library: "/nonexistent/libnftables.so.1");

        var sync = () => proxy.SyncAsync(OneService(TestNetwork.ServiceAddress(3), _network.EndpointAddresses[0]), CancellationToken.None);

        (await sync.Should().ThrowAsync<NetworkProxyException>()).Which.Message.Should().Contain("nftables is not installed: /nonexistent/libnftables.so.1 cannot be loaded").And.Contain("--proxy-mode none");
    }

    [Fact]
    public async Task A_namespace_that_is_gone_is_a_clear_error()
    {
        using var proxy = new NftablesProxy(
            Microsoft.Extensions.Options.Options.Create(new Orchestration.Runtime.Linux.Networking.NftablesProxyOptions { NetworkNamespacePath = "/var/run/netns/orch-not-there" }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<NftablesProxy>.Instance);

        var sync = () => proxy.SyncAsync(ServiceTable.Empty, CancellationToken.None);

        (await sync.Should().ThrowAsync<NetworkProxyException>()).Which.Message.Should().Contain("/var/run/netns/orch-not-there does not exist");
    }

    [Fact]
    public async Task A_refused_transaction_throws_with_nfts_words_and_leaves_the_rules_that_were_there()
    {
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        using var listener = Listen(_network.EndpointAddresses[0], 8080);
        await proxy.SyncAsync(OneService(TestNetwork.ServiceAddress(4), _network.EndpointAddresses[0]), CancellationToken.None);

        // A port number nft cannot take makes the kernel refuse the whole transaction.
        var bad = new ServiceTable([Port("bad", TestNetwork.ServiceAddress(5), _network.EndpointAddresses[0]) with { Port = 70000 }]);
        var sync = () => proxy.SyncAsync(bad, CancellationToken.None);

        (await sync.Should().ThrowAsync<NetworkProxyException>()).Which.Message.Should().Contain("nft refused");
        using var client = await ConnectAsync(TestNetwork.ServiceAddress(4), 80);
        using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5));
        accepted.Connected.Should().BeTrue("the rules of the last good sync still serve");
    }

    private async Task<IReadOnlyList<string>> TablesAsync()
    {
        var (_, output) = await _network.RunAsync("/usr/sbin/nft", "list", "tables");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[^1]).ToList();
    }

    private static ServiceTable OneService(IPAddress clusterIp, IPAddress endpoint) => new([Port("one", clusterIp, endpoint)]);

    private static ServicePort Port(string name, IPAddress clusterIp, IPAddress endpoint) =>
        new(new ServicePortName("conformance", name, "", ServiceProtocol.Tcp), 80)
        {
            ClusterIPs = [clusterIp],
            ClusterEndpoints = [new ServiceEndpoint(endpoint, 8080, null)],
            ExternalEndpoints = [new ServiceEndpoint(endpoint, 8080, null)],
        };

    private Socket Listen(IPAddress address, int port)
    {
        var socket = _network.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(address, port));
        socket.Listen(8);
        return socket;
    }

    private async Task<Socket> ConnectAsync(IPAddress address, int port)
    {
        var socket = _network.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(_network.ClientAddress, 0));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await socket.ConnectAsync(new IPEndPoint(address, port), deadline.Token);
        return socket;
    }
}
