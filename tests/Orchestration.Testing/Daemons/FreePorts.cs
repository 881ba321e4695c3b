using System.Net;
using System.Net.Sockets;

namespace Orchestration.Testing.Daemons;

/// <summary>Loopback ports nobody is listening on.</summary>
public static class FreePorts
{
    /// <summary>Asks the kernel for an unused loopback port.</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
