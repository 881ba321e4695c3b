using System.Net;
using System.Net.Sockets;
using Orchestration.Networking;
using Orchestration.TestKit.Conformance;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>
/// The network proxy conformance kit in a network namespace of the test's own (<see cref="TestNetwork"/>):
/// each proxy says only how it is made and put away.
/// </summary>
public abstract class ProxyInTestNetworkConformanceTests : NetworkProxyConformanceTests
{
    private TestNetwork _network = null!;
    private INetworkProxy _proxy = null!;

    protected override INetworkProxy Proxy => _proxy;

    protected override IReadOnlyList<IPAddress> EndpointAddresses => _network.EndpointAddresses;

    protected override IPAddress ClientAddress => _network.ClientAddress;

    protected override IPAddress NodeAddress => _network.NodeAddress;

    protected override IPAddress ServiceAddress(int index) => TestNetwork.ServiceAddress(index);

    protected override Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => _network.CreateSocket(family, type, protocol);

    /// <summary>The proxy under test, working in <paramref name="network"/>.</summary>
    protected abstract INetworkProxy CreateProxy(TestNetwork network);

    /// <summary>Puts the proxy away once the kit has cleaned up.</summary>
    protected abstract ValueTask DisposeProxyAsync();

    public override async Task InitializeAsync()
    {
        _network = await TestNetwork.CreateAsync();
        _proxy = CreateProxy(_network);
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await DisposeProxyAsync();
        await _network.DisposeAsync();
    }
}
