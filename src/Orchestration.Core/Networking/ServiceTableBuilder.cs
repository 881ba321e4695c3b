using System.Net;
using k8s.Models;
using Orchestration.Controllers.Network;

namespace Orchestration.Networking;

/// <summary>
/// Computes the desired <see cref="ServiceTable"/> from Services and their EndpointSlices, as
/// kube-proxy does: EndpointSlices, not Endpoints; ready endpoints, or when a port has none, the
/// endpoints that still serve while terminating; a named targetPort taken per slice (each slice
/// carries the port numbers of its endpoints); <c>internalTrafficPolicy</c> and
/// <c>externalTrafficPolicy</c> Local narrowing to this node's endpoints. Headless and ExternalName
/// Services have no virtual address and are left out (DNS answers for them).
/// </summary>
public static class ServiceTableBuilder
{
    /// <summary>The default <c>sessionAffinityConfig.clientIP.timeoutSeconds</c>: three hours.</summary>
    public const int DefaultStickySeconds = 10800;

    /// <summary>The table for <paramref name="services"/> and the <paramref name="slices"/> that back them, seen from <paramref name="nodeName"/>.</summary>
    public static ServiceTable Build(IEnumerable<V1Service> services, IEnumerable<V1EndpointSlice> slices, string? nodeName)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(slices);
        var slicesByService = slices
            .Where(s => s.Metadata?.Labels?.ContainsKey(EndpointsController.ServiceNameLabel) == true)
            .ToLookup(s => (s.Metadata.NamespaceProperty ?? "", s.Metadata.Labels[EndpointsController.ServiceNameLabel]));
        var ports = new List<ServicePort>();
        foreach (var service in services)
        {
            ports.AddRange(PortsOf(service, slicesByService[(service.Metadata.NamespaceProperty ?? "", service.Metadata.Name)], nodeName));
        }

        return new ServiceTable(ports);
    }

    /// <summary>The entries of one Service (none for a headless or ExternalName one).</summary>
    public static IEnumerable<ServicePort> PortsOf(V1Service service, IEnumerable<V1EndpointSlice> slices, string? nodeName)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(slices);
        var spec = service.Spec;
        if (spec is null || spec.Type == "ExternalName")
        {
            yield break;
        }

        var clusterIPs = (spec.ClusterIPs is { Count: > 0 } ips ? ips : spec.ClusterIP is { } one ? [one] : [])
            .Select(ParseOrNull).OfType<IPAddress>().ToList();
        if (clusterIPs.Count == 0)
        {
            yield break;
        }

        var sliceList = slices.ToList();
        var externalIPs = (spec.ExternalIPs ?? []).Select(ParseOrNull).OfType<IPAddress>().ToList();
        var loadBalancerIPs = spec.Type == "LoadBalancer"
            ? (service.Status?.LoadBalancer?.Ingress ?? []).Select(i => ParseOrNull(i.Ip)).OfType<IPAddress>().ToList()
            : [];
        TimeSpan? sticky = spec.SessionAffinity == "ClientIP"
            ? TimeSpan.FromSeconds(spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? DefaultStickySeconds)
            : null;
        var externalLocal = spec.ExternalTrafficPolicy == "Local" && spec.Type is "NodePort" or "LoadBalancer";
        var internalLocal = spec.InternalTrafficPolicy == "Local";
        foreach (var port in spec.Ports ?? [])
        {
            var name = new ServicePortName(service.Metadata.NamespaceProperty ?? "", service.Metadata.Name, port.Name ?? "", ProtocolOf(port.Protocol));
            var all = EndpointsFor(name, sliceList).ToList();
            var local = all.Where(e => e.Endpoint.NodeName is not null && e.Endpoint.NodeName == nodeName).ToList();
            yield return new ServicePort(name, port.Port)
            {
                ClusterIPs = clusterIPs,
                NodePort = port.NodePort is > 0 && spec.Type is "NodePort" or "LoadBalancer" ? port.NodePort : null,
                ExternalIPs = externalIPs,
                LoadBalancerIPs = loadBalancerIPs,
                StickyFor = sticky,
                ExternalPolicyLocal = externalLocal,
                InternalPolicyLocal = internalLocal,
                ClusterEndpoints = Usable(internalLocal ? local : all),
                ExternalEndpoints = Usable(externalLocal ? local : all),
            };
        }
    }

    /// <summary>The protocol a Service port names (TCP when unset).</summary>
    public static ServiceProtocol ProtocolOf(string? protocol) => protocol?.ToUpperInvariant() switch
    {
        "UDP" => ServiceProtocol.Udp,
        "SCTP" => ServiceProtocol.Sctp,
        _ => ServiceProtocol.Tcp,
    };

    // Ready endpoints when there are any; otherwise those still serving while they terminate, so a
    // rolling update or a scale-down does not drop connections that could still be served.
    private static List<ServiceEndpoint> Usable(List<(ServiceEndpoint Endpoint, bool Ready, bool ServingTerminating)> candidates)
    {
        var ready = candidates.Where(c => c.Ready).Select(c => c.Endpoint).Distinct().ToList();
        return ready.Count > 0 ? ready : candidates.Where(c => c.ServingTerminating).Select(c => c.Endpoint).Distinct().ToList();
    }

    private static IEnumerable<(ServiceEndpoint Endpoint, bool Ready, bool ServingTerminating)> EndpointsFor(ServicePortName name, List<V1EndpointSlice> slices)
    {
        foreach (var slice in slices)
        {
            if (slice.AddressType is not ("IPv4" or "IPv6"))
            {
                continue;
            }

            var port = slice.Ports?.FirstOrDefault(p => (p.Name ?? "") == name.Port && ProtocolOf(p.Protocol) == name.Protocol);
            if (port?.Port is not { } number)
            {
                continue;
            }

            foreach (var endpoint in slice.Endpoints ?? [])
            {
                // An unset condition reads as its most permissive value (the API's rule for ready and serving).
                var ready = endpoint.Conditions?.Ready ?? true;
                var serving = endpoint.Conditions?.Serving ?? ready;
                var terminating = endpoint.Conditions?.Terminating ?? false;
                foreach (var address in endpoint.Addresses ?? [])
                {
                    if (ParseOrNull(address) is { } ip)
                    {
                        yield return (new ServiceEndpoint(ip, number, endpoint.NodeName), ready && !terminating, serving && terminating);
                    }
                }
            }
        }
    }

    private static IPAddress? ParseOrNull(string? text) =>
        !string.IsNullOrEmpty(text) && text != "None" && IPAddress.TryParse(text, out var ip) ? ip : null;
}
