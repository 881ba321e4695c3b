using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
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
    public async Task A_new_proxy_takes_over_the_tables_without_dropping_an_established_connection()
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

        second.LastSync.Full.Should().BeTrue("a new proxy replaces all the tables at its first sync");
        await client.SendAsync("still here"u8.ToArray());
        var buffer = new byte[64];
        var read = await server.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(5));
        Encoding.ASCII.GetString(buffer, 0, read).Should().Be("still here");
    }

    [Fact]
    public async Task Clean_up_deletes_the_proxy_tables_and_nothing_else()
    {
        await _network.RunAsync("/usr/sbin/nft", "add", "table", "ip", "someone-else");
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        await proxy.SyncAsync(OneService(TestNetwork.ServiceAddress(2), _network.EndpointAddresses[0]), CancellationToken.None);
        (await TablesAsync()).Should().Contain(["orch-proxy", "orch-proxy-0", "orch-proxy-1", "someone-else"]);

        // A shard of a layout with more shards, left by an earlier proxy after this one's first sync.
        await _network.RunAsync("/usr/sbin/nft", "add", "table", "ip", "orch-proxy-99");
        await proxy.CleanUpAsync(CancellationToken.None);

        (await TablesAsync()).Should().Equal("someone-else");
    }

    [Fact]
    public async Task A_first_sync_replaces_the_tables_of_an_earlier_layout()
    {
        // As a proxy with a hundred shards would leave them, plus tables that only look alike.
        await _network.RunAsync("/usr/sbin/nft", "add", "table", "ip", "orch-proxy-99");
        await _network.RunAsync("/usr/sbin/nft", "add", "chain", "ip", "orch-proxy-99", "svc-old");
        await _network.RunAsync("/usr/sbin/nft", "add", "table", "ip", "orch-proxy-other");
        await _network.RunAsync("/usr/sbin/nft", "add", "table", "ip", "orch-proxyx");
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);

        await proxy.SyncAsync(OneService(TestNetwork.ServiceAddress(2), _network.EndpointAddresses[0]), CancellationToken.None);

        var tables = await TablesAsync();
        tables.Should().NotContain("orch-proxy-99");
        tables.Should().Contain(["orch-proxy", "orch-proxy-0", "orch-proxy-other", "orch-proxyx"]);
        tables.Where(t => t.StartsWith("orch-proxy-", StringComparison.Ordinal) && t != "orch-proxy-other").Should().HaveCount(proxy.Layout!.Shards);
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
        var (_, ruleset) = await _network.RunAsync("/usr/sbin/nft", "list", "ruleset");
        ruleset.Should().Contain("dnat to 10.244.0.3:8080", "the new endpoint is in the changed Service's chain");
    }

    [Fact]
    public async Task Tcp_udp_and_sctp_on_one_port_number_are_three_entries_each_to_its_own_endpoint()
    {
        // This machine's kernel has no SCTP sockets, so no SCTP packet can be sent here; what is
        // shown is that the kernel takes the SCTP entries and that each protocol keeps its own.
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        var address = TestNetwork.ServiceAddress(3);
        var ports = new[] { ServiceProtocol.Tcp, ServiceProtocol.Udp, ServiceProtocol.Sctp }.Select((protocol, i) =>
            new ServicePort(new ServicePortName("conformance", "multi", protocol.ToString().ToLowerInvariant(), protocol), 80)
            {
                ClusterIPs = [address],
                ClusterEndpoints = [new ServiceEndpoint(_network.EndpointAddresses[i], 9000 + i, null)],
            }).ToList();

        await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);

        var (_, ruleset) = await _network.RunAsync("/usr/sbin/nft", "list", "ruleset");
        foreach (var (protocol, i) in new[] { ("tcp", 0), ("udp", 1), ("sctp", 2) })
        {
            ruleset.Should().Contain($"{address} . {protocol} . 80 : ", $"the {protocol} port has its own map element");
            ruleset.Should().Contain($"dnat to {_network.EndpointAddresses[i]}:{9000 + i}", $"and its own endpoint");
        }

        // Without endpoints, an SCTP port is rejected like the others.
        await proxy.SyncAsync(new ServiceTable(ports.Select(p => p with { ClusterEndpoints = [] })), CancellationToken.None);
        (await _network.RunAsync("/usr/sbin/nft", "list", "ruleset")).Output.Should().Contain($"{address} . sctp . 80");
    }

    [Fact]
    public async Task An_endpoint_change_touches_only_the_shard_table_of_its_service()
    {
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        var ports = Enumerable.Range(1, 50).Select(i => Port($"svc-{i}", TestNetwork.ServiceAddress(i), _network.EndpointAddresses[0])).ToList();
        await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
        var layout = proxy.Layout!;
        var shardOf = new Dictionary<string, string>();
        foreach (var shard in layout.ShardTables)
        {
            var (_, listing) = await _network.RunAsync("/usr/sbin/nft", "list", "table", "ip", shard);
            foreach (var port in ports.Where(p => listing.Contains($"/{p.Name.Service}/", StringComparison.Ordinal)))
            {
                shardOf.Add(port.Name.Service, shard);
            }
        }

        shardOf.Should().HaveCount(50, "every Service port has its chain in exactly one shard");
        shardOf.Values.Distinct().Should().HaveCountGreaterThan(1, "fifty Services spread over the shards");

        ports[7] = ports[7] with { ClusterEndpoints = [.. ports[7].ClusterEndpoints, new ServiceEndpoint(_network.EndpointAddresses[1], 8080, null)] };
        await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);

        proxy.LastSync.Full.Should().BeFalse();
        var touched = Regex.Matches(proxy.LastScript!, @"\bip (orch-proxy\S*)").Select(m => m.Groups[1].Value).Distinct().ToList();
        touched.Should().Equal([shardOf["svc-8"]], "the script names no table but the changed Service's shard");
        var (_, shardListing) = await _network.RunAsync("/usr/sbin/nft", "list", "table", "ip", shardOf["svc-8"]);
        shardListing.Should().Contain("dnat to 10.244.0.3:8080");
    }

    [Fact]
    public async Task Chains_of_removed_services_are_emptied_at_once_and_deleted_together_later()
    {
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        var ports = Enumerable.Range(1, 300).Select(i => Port($"svc-{i}", TestNetwork.ServiceAddress(i), _network.EndpointAddresses[0])).ToList();
        await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
        (await ServiceChainsAsync()).Should().Be(300);

        await proxy.SyncAsync(new ServiceTable(ports.Skip(100).ToList()), CancellationToken.None);

        proxy.LastScript.Should().NotContain("delete", "fewer than NftablesRuleset.StaleLimit chains wait");
        (await ServiceChainsAsync()).Should().Be(300, "removed Services' chains stay, empty, until enough wait");
        var (_, ruleset) = await _network.RunAsync("/usr/sbin/nft", "list", "ruleset");
        ruleset.Should().NotContain(TestNetwork.ServiceAddress(1) + " . tcp . 80", "a removed Service's address leads nowhere");

        await proxy.SyncAsync(new ServiceTable(ports.Skip(260).ToList()), CancellationToken.None);

        proxy.LastSync.Full.Should().BeFalse();
        (await ServiceChainsAsync()).Should().Be(40, "once enough wait, they are deleted together");
    }

    [Fact]
    public async Task Every_kind_of_change_applies_as_a_change_and_ends_where_a_full_sync_would()
    {
        var endpoints = _network.EndpointAddresses;
        var ports = Enumerable.Range(1, 20).Select(i => Port($"svc-{i}", TestNetwork.ServiceAddress(i), endpoints[i % 3])).ToList();
        ports.Add(Port("np", TestNetwork.ServiceAddress(30), endpoints[0]) with { NodePort = 30080 });
        ports.Add(Port("ext", TestNetwork.ServiceAddress(31), endpoints[1]) with { ExternalIPs = [IPAddress.Parse("192.168.77.50")] });
        ports.Add(Port("sticky", TestNetwork.ServiceAddress(32), endpoints[0]) with { StickyFor = TimeSpan.FromMinutes(5) });
        ports.Add(Port("empty", TestNetwork.ServiceAddress(33), endpoints[0]) with { ClusterEndpoints = [], ExternalEndpoints = [] });
        using var proxy = NftablesProxyConformanceTests.NewProxy(_network);
        await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
        var index = ports.ToDictionary(p => p.Name.Service);
        var two = new ServiceEndpoint[] { new(endpoints[0], 8080, null), new(endpoints[1], 8080, null) };
        Func<Dictionary<string, ServicePort>, Dictionary<string, ServicePort>>[] changes =
        [
            t => With(t, t["svc-1"] with { ClusterEndpoints = two, ExternalEndpoints = two }),
            t => With(t, t["svc-2"] with { ClusterEndpoints = [], ExternalEndpoints = [] }),
            t => With(t, t["svc-2"] with { ClusterEndpoints = two, ExternalEndpoints = two }, t["empty"] with { ClusterEndpoints = two, ExternalEndpoints = two }),
            t => With(t, t["np"] with { NodePort = null }, Port("np2", TestNetwork.ServiceAddress(34), endpoints[2]) with { NodePort = 30081 }),
            t => With(t, t["sticky"] with { ClusterEndpoints = two, ExternalEndpoints = two }),
            t => With(t, t["sticky"] with { StickyFor = TimeSpan.FromMinutes(1) }),
            t => Without(t, Enumerable.Range(3, 8).Select(i => $"svc-{i}")),
            t => With(t, t["ext"] with { ExternalIPs = [IPAddress.Parse("192.168.77.51")], ExternalPolicyLocal = true }),
            t => With(t, t["sticky"] with { StickyFor = null }, t["svc-11"] with { ClusterIPs = [TestNetwork.ServiceAddress(40)] }),
            t => With(t, Port("svc-3", TestNetwork.ServiceAddress(3), endpoints[2])),
        ];

        foreach (var change in changes)
        {
            index = change(index);
            proxy.ForgetLastSync();
            await proxy.SyncAsync(new ServiceTable(index.Values.ToList()), CancellationToken.None);

            proxy.LastSync.Full.Should().BeFalse("nft takes the change script (a refused one falls back to a full sync)");
            proxy.LastScript.Should().NotBeNullOrEmpty();
        }

        var changed = await RulesetAsync();
        using var fresh = NftablesProxyConformanceTests.NewProxy(_network);
        await fresh.SyncAsync(new ServiceTable(index.Values.ToList()), CancellationToken.None);
        fresh.LastSync.Full.Should().BeTrue();

        changed.Should().Equal(await RulesetAsync(), "the changes end where a full sync of the same table starts");
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

    // Rules in their order and map elements in any order, per table and chain or map, from nft's
    // JSON listing: what decides where packets go, without handles, empty chains or unused sets.
    private async Task<List<string>> RulesetAsync()
    {
        var (_, output) = await _network.RunAsync("/usr/sbin/nft", "-j", "list", "ruleset");
        var items = new List<string>();
        var counts = new Dictionary<string, int>();
        foreach (var item in JsonNode.Parse(output)!["nftables"]!.AsArray())
        {
            if (item!["rule"] is JsonObject rule)
            {
                var chain = $"{rule["table"]}|{rule["chain"]}";
                counts[chain] = counts.GetValueOrDefault(chain) + 1;
                items.Add($"rule {chain}|{counts[chain]}|{rule["expr"]!.ToJsonString()}");
            }
            else if (item["map"] is JsonObject map)
            {
                items.AddRange((map["elem"]?.AsArray() ?? []).Select(e => $"element {map["table"]}|{map["name"]}|{e!.ToJsonString()}"));
            }
        }

        items.Sort(StringComparer.Ordinal);
        return items;
    }

    private static Dictionary<string, ServicePort> With(Dictionary<string, ServicePort> table, params ServicePort[] ports)
    {
        var next = new Dictionary<string, ServicePort>(table);
        foreach (var port in ports)
        {
            next[port.Name.Service] = port;
        }

        return next;
    }

    private static Dictionary<string, ServicePort> Without(Dictionary<string, ServicePort> table, IEnumerable<string> names)
    {
        var next = new Dictionary<string, ServicePort>(table);
        foreach (var name in names)
        {
            next.Remove(name);
        }

        return next;
    }

    private async Task<int> ServiceChainsAsync()
    {
        var (_, output) = await _network.RunAsync("/usr/sbin/nft", "list", "chains", "ip");
        return output.Split('\n').Count(l => l.TrimStart().StartsWith("chain svc-", StringComparison.Ordinal));
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
