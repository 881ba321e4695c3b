using System.Net;

namespace Orchestration.Networking;

/// <summary>Where a Service port's traffic may go: a pod's address and the port it serves on (a named targetPort resolved for that pod).</summary>
/// <param name="Address">The endpoint's address.</param>
/// <param name="Port">The endpoint's port.</param>
/// <param name="NodeName">The node the endpoint runs on, when known.</param>
public sealed record ServiceEndpoint(IPAddress Address, int Port, string? NodeName)
{
    /// <summary><c>address:port</c>.</summary>
    public override string ToString() => Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";
}
