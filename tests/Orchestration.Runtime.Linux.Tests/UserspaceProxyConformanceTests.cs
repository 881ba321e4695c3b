using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Networking;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>The network proxy conformance kit against the userspace proxy, in a network namespace of the test's own.</summary>
[Trait("Category", "Integration")]
public sealed class UserspaceProxyConformanceTests : ProxyInTestNetworkConformanceTests
{
    private NamespaceUserspaceProxyNetwork? _proxyNetwork;
    private UserspaceProxy? _proxy;

    protected override INetworkProxy CreateProxy(TestNetwork network)
    {
        _proxyNetwork = new NamespaceUserspaceProxyNetwork(new Namespace(network.Path));
        return _proxy = new UserspaceProxy(_proxyNetwork, TimeProvider.System, NullLogger<UserspaceProxy>.Instance);
    }

    protected override async ValueTask DisposeProxyAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        _proxyNetwork?.Dispose();
    }

    private sealed class Namespace(string path) : INodeNetworkNamespace
    {
        public string? NetworkNamespacePath => path;
    }
}
