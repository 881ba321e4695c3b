using k8s.Models;

namespace Orchestration.Dns.Tests;

/// <summary>Services and EndpointSlices as the informers deliver them.</summary>
internal static class Objects
{
    public static V1ServicePort Port(string? name, int port, string protocol = "TCP") => new() { Name = name, Port = port, Protocol = protocol };

    public static V1Service ClusterIP(string @namespace, string name, string clusterIP, params V1ServicePort[] ports) =>
        ClusterIP(@namespace, name, [clusterIP], ports);

    public static V1Service ClusterIP(string @namespace, string name, string[] clusterIPs, params V1ServicePort[] ports) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = @namespace, Name = name },
        Spec = new V1ServiceSpec { Type = "ClusterIP", ClusterIP = clusterIPs[0], ClusterIPs = clusterIPs, Ports = ports },
    };

    public static V1Service Headless(string @namespace, string name, params V1ServicePort[] ports) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = @namespace, Name = name },
        Spec = new V1ServiceSpec { Type = "ClusterIP", ClusterIP = "None", ClusterIPs = ["None"], Ports = ports },
    };

    public static V1Service ExternalName(string @namespace, string name, string externalName) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = @namespace, Name = name },
        Spec = new V1ServiceSpec { Type = "ExternalName", ExternalName = externalName },
    };

    public static V1Endpoint Endpoint(string address, bool? ready = true, string? hostname = null) => new()
    {
        Addresses = [address],
        Hostname = hostname,
        Conditions = ready is null ? null : new V1EndpointConditions { Ready = ready },
    };

    public static Discoveryv1EndpointPort SlicePort(string? name, int port, string protocol = "TCP") => new() { Name = name, Port = port, Protocol = protocol };

    public static V1EndpointSlice Slice(string @namespace, string name, string? service, IEnumerable<V1Endpoint> endpoints, params Discoveryv1EndpointPort[] ports) => new()
    {
        Metadata = new V1ObjectMeta
        {
            NamespaceProperty = @namespace,
            Name = name,
            Labels = service is null ? null : new Dictionary<string, string> { ["kubernetes.io/service-name"] = service },
        },
        AddressType = endpoints.Any(e => e.Addresses[0].Contains(':', StringComparison.Ordinal)) ? "IPv6" : "IPv4",
        Endpoints = [.. endpoints],
        Ports = ports,
    };
}
