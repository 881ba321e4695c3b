using System.Net;
using k8s.Models;

namespace Orchestration.Dns.Zone;

/// <summary>What DNS needs of an EndpointSlice: its Service, its endpoints' addresses, hostnames and readiness, its named ports.</summary>
internal sealed class SliceInfo
{
    /// <summary>The label that ties an EndpointSlice to its Service.</summary>
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    private SliceInfo(string service, EndpointInfo[] endpoints, PortInfo[] ports)
    {
        Service = service;
        Endpoints = endpoints;
        Ports = ports;
    }

    public string Service { get; }

    public EndpointInfo[] Endpoints { get; }

    public PortInfo[] Ports { get; }

    /// <summary>The slice's view, or null when it names no Service (a slice without the label is not DNS's).</summary>
    public static SliceInfo? From(V1EndpointSlice slice)
    {
        if (slice.Metadata?.Labels is not { } labels || !labels.TryGetValue(ServiceNameLabel, out var service) || string.IsNullOrEmpty(service))
        {
            return null;
        }

        if (string.Equals(slice.AddressType, "FQDN", StringComparison.OrdinalIgnoreCase))
        {
            return new SliceInfo(service.ToLowerInvariant(), [], []);
        }

        var endpoints = (slice.Endpoints ?? [])
            .Select(e => new EndpointInfo(
                [.. (e.Addresses ?? []).Select(a => IPAddress.TryParse(a, out var parsed) ? parsed : null).OfType<IPAddress>().Distinct()],
                IsLabel(e.Hostname) ? e.Hostname.ToLowerInvariant() : null,
                e.Conditions?.Ready ?? true))
            .Where(e => e.Addresses.Length > 0)
            .ToArray();
        var ports = (slice.Ports ?? [])
            .Where(p => !string.IsNullOrEmpty(p.Name) && p.Port is > 0 and <= ushort.MaxValue)
            .Select(p => new PortInfo(p.Name.ToLowerInvariant(), ServiceInfo.Lower(p.Protocol) ?? "tcp", p.Port!.Value))
            .ToArray();
        return new SliceInfo(service.ToLowerInvariant(), endpoints, ports);
    }

    /// <summary>Whether a hostname can be one DNS label (an RFC 1123 label: letters, digits, dashes, up to 63).</summary>
    private static bool IsLabel(string? hostname) =>
        !string.IsNullOrEmpty(hostname) && hostname.Length <= 63 && hostname.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
}
