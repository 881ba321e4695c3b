using System.Net.Sockets;
using Orchestration.Dns;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>The cluster DNS server's sockets, made in the node's network namespace (known once the runtime's daemon has started).</summary>
internal sealed class NamespaceDnsSocketFactory(INodeNetworkNamespace? node) : IDnsSocketFactory, IDisposable
{
    private readonly Lazy<NamespaceSockets> _sockets = new(() => new NamespaceSockets(node?.NetworkNamespacePath));

    public Socket Create(AddressFamily addressFamily, SocketType socketType, ProtocolType protocolType, DnsSocketRole role) =>
        _sockets.Value.Create(addressFamily, socketType, protocolType);

    public void Dispose()
    {
        if (_sockets.IsValueCreated)
        {
            _sockets.Value.Dispose();
        }
    }
}
