using k8s.Models;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>The host ports of a pod's containers, which its sandbox exposes on the node (kubelet's sandbox port mappings).</summary>
internal static class PodPortMappings
{
    /// <summary>One mapping per app container port with a <c>hostPort</c>; ports without one are only the pod's.</summary>
    public static IReadOnlyList<PortMapping> Of(V1Pod pod)
    {
        var mappings = new List<PortMapping>();
        foreach (var container in pod.Spec.Containers ?? [])
        {
            foreach (var port in container.Ports ?? [])
            {
                // kubelet passes every port and the runtime skips those without a host port; skipping them here is the same.
                if (port.HostPort is { } hostPort && hostPort > 0)
                {
                    mappings.Add(new PortMapping(port.Protocol ?? "TCP", port.ContainerPort, hostPort, string.IsNullOrEmpty(port.HostIP) ? null : port.HostIP));
                }
            }
        }

        return mappings;
    }
}
