using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Networking;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>The network proxy conformance kit against nftables, in a network namespace of the test's own.</summary>
[Trait("Category", "Integration")]
public sealed class NftablesProxyConformanceTests : ProxyInTestNetworkConformanceTests
{
    private NftablesProxy? _proxy;

    internal static NftablesProxy NewProxy(TestNetwork network, string library = "libnftables.so.1") =>
        new(Options.Create(new NftablesProxyOptions { NetworkNamespacePath = network.Path, ClusterCidr = TestNetwork.ClusterCidr, LibraryPath = library }), NullLogger<NftablesProxy>.Instance);

    protected override INetworkProxy CreateProxy(TestNetwork network) => _proxy = NewProxy(network);

    protected override ValueTask DisposeProxyAsync()
    {
        _proxy?.Dispose();
        return ValueTask.CompletedTask;
    }
}
