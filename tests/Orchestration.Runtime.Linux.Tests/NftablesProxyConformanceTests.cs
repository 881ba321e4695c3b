using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Networking;
using Orchestration.Runtime.Linux.Networking;
using Orchestration.TestKit.Conformance;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>The network proxy conformance kit against nftables, in a network namespace of the test's own.</summary>
[Trait("Category", "Integration")]
public sealed class NftablesProxyConformanceTests : NetworkProxyConformanceTests
{
    private TestNetwork _network = null!;
    private NftablesProxy _proxy = null!;

    protected override INetworkProxy Proxy => _proxy;

    protected override IReadOnlyList<IPAddress> EndpointAddresses => _network.EndpointAddresses;

    protected override IPAddress ClientAddress => _network.ClientAddress;

    protected override IPAddress NodeAddress => _network.NodeAddress;

    protected override IPAddress ServiceAddress(int index) => TestNetwork.ServiceAddress(index);

    protected override Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => _network.CreateSocket(family, type, protocol);

    public override async Task InitializeAsync()
    {
        _network = await TestNetwork.CreateAsync();
        _proxy = NewProxy(_network);
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _proxy.Dispose();
        await _network.DisposeAsync();
    }

    internal static NftablesProxy NewProxy(TestNetwork network, string library = "libnftables.so.1") =>
        new(Options.Create(new NftablesProxyOptions { NetworkNamespacePath = network.Path, ClusterCidr = TestNetwork.ClusterCidr, LibraryPath = library }), NullLogger<NftablesProxy>.Instance);
}
