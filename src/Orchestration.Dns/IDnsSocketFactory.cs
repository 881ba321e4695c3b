using System.Net.Sockets;

namespace Orchestration.Dns;

/// <summary>
/// Creates the sockets the DNS server uses. On Linux a socket belongs to the network namespace of the
/// thread that created it, so a node whose data plane lives in another namespace creates them there;
/// binding, listening and I/O then work from any thread.
/// </summary>
public interface IDnsSocketFactory
{
    /// <summary>
    /// Creates an unbound socket. Listener sockets are created when the server starts; upstream
    /// sockets at start and, for TCP retries of truncated upstream answers, while it serves, from any thread.
    /// </summary>
    Socket Create(AddressFamily addressFamily, SocketType socketType, ProtocolType protocolType, DnsSocketRole role);
}
