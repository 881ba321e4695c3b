using System.Net.Sockets;

namespace Orchestration.Dns;

/// <summary>Creates plain sockets in the calling thread's network namespace (the host's, unless the caller moved it).</summary>
public sealed class DnsSocketFactory : IDnsSocketFactory
{
    /// <summary>The shared instance.</summary>
    public static DnsSocketFactory Default { get; } = new();

    /// <inheritdoc />
    public Socket Create(AddressFamily addressFamily, SocketType socketType, ProtocolType protocolType, DnsSocketRole role) =>
        new(addressFamily, socketType, protocolType);
}
