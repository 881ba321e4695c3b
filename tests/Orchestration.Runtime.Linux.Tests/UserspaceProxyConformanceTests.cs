using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Networking;
using Orchestration.Runtime.Linux.Networking;
using Orchestration.TestKit.Conformance;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>The network proxy conformance kit against the userspace proxy, in a network namespace of the test's own.</summary>
[Trait("Category", "Integration")]
public sealed class UserspaceProxyConformanceTests : NetworkProxyConformanceTests
{
    private TestNetwork _network = null!;
    private NamespaceUserspaceProxyNetwork _proxyNetwork = null!;
    private UserspaceProxy _proxy = null!;

    protected override INetworkProxy Proxy => _proxy;

    protected override IReadOnlyList<IPAddress> EndpointAddresses => _network.EndpointAddresses;

    protected override IPAddress ClientAddress => _network.ClientAddress;

    protected override IPAddress NodeAddress => _network.NodeAddress;

    protected override IPAddress ServiceAddress(int index) => TestNetwork.ServiceAddress(index);

    protected override Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => _network.CreateSocket(family, type, protocol);

    public override async Task InitializeAsync()
    {
        _network = await TestNetwork.CreateAsync();
        _proxyNetwork = new NamespaceUserspaceProxyNetwork(new Namespace(_network.Path));
        _proxy = new UserspaceProxy(_proxyNetwork, TimeProvider.System, NullLogger<UserspaceProxy>.Instance);
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _proxy.DisposeAsync();
        _proxyNetwork.Dispose();
        await _network.DisposeAsync();
    }

    private sealed class Namespace(string path) : INodeNetworkNamespace
    {
        public string? NetworkNamespacePath => path;
    }
}
