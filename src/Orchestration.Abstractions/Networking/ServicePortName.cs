namespace Orchestration.Networking;

/// <summary>One port of one Service, the unit a proxy programs (kube-proxy's ServicePortName).</summary>
/// <param name="Namespace">The Service's namespace.</param>
/// <param name="Service">The Service's name.</param>
/// <param name="Port">The port's name in the Service, empty when the Service has one unnamed port.</param>
/// <param name="Protocol">The port's protocol.</param>
public readonly record struct ServicePortName(string Namespace, string Service, string Port, ServiceProtocol Protocol)
{
    /// <summary><c>namespace/name:port/protocol</c>, as logs and rule comments show it.</summary>
    public override string ToString() => Port.Length == 0
        ? $"{Namespace}/{Service}/{Protocol.ToString().ToLowerInvariant()}"
        : $"{Namespace}/{Service}:{Port}/{Protocol.ToString().ToLowerInvariant()}";
}
