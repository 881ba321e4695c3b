using System.Net;
using System.Net.Sockets;

namespace Orchestration.Networking;

/// <summary>The network a <see cref="UserspaceProxy"/> works in: where its sockets are made, and how the node comes to accept the virtual addresses it listens on.</summary>
public interface IUserspaceProxyNetwork
{
    /// <summary>A new socket in the node's network.</summary>
    Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol);

    /// <summary>Makes the node accept traffic to exactly <paramref name="addresses"/> (cluster, external and load-balancer IPs) as its own, so the proxy can listen on them.</summary>
    Task AcceptAddressesAsync(IReadOnlyCollection<IPAddress> addresses, CancellationToken cancellationToken);
}

/// <summary>This process's own network: plain sockets; the virtual addresses must be local already (loopback ones, say).</summary>
public sealed class HostUserspaceProxyNetwork : IUserspaceProxyNetwork
{
    /// <inheritdoc />
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => new(family, type, protocol);

    /// <inheritdoc />
    public Task AcceptAddressesAsync(IReadOnlyCollection<IPAddress> addresses, CancellationToken cancellationToken) => Task.CompletedTask;
}
