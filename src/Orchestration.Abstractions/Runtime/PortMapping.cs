namespace Orchestration.Runtime;

/// <summary>A container port exposed on the node (CRI's PortMapping, from a container port's <c>hostPort</c>).</summary>
/// <param name="Protocol"><c>TCP</c>, <c>UDP</c> or <c>SCTP</c>, as the pod spec names it.</param>
/// <param name="ContainerPort">The port in the pod.</param>
/// <param name="HostPort">The port on the node.</param>
/// <param name="HostIp">The node address it is bound to, or null for all.</param>
public sealed record PortMapping(string Protocol, int ContainerPort, int HostPort, string? HostIp = null);
