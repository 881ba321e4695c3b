using System.Net;
using ARSoft.Tools.Net;
using k8s.Models;

namespace Orchestration.Dns.Zone;

/// <summary>What DNS needs of a Service, taken once when it changes (the model objects are the informer's, and mutable).</summary>
internal sealed class ServiceInfo
{
    private const string TolerateUnreadyAnnotation = "service.alpha.kubernetes.io/tolerate-unready-endpoints";

    private ServiceInfo(string @namespace, string name, ServiceKind kind)
    {
        Namespace = @namespace;
        Name = name;
        Kind = kind;
    }

    public string Namespace { get; }

    public string Name { get; }

    public ServiceKind Kind { get; }

    public IPAddress[] ClusterIPs { get; private init; } = [];

    /// <summary>An ExternalName Service's target; null when the Service gave none that is a domain name.</summary>
    public DomainName? ExternalName { get; private init; }

    public PortInfo[] Ports { get; private init; } = [];

    /// <summary>Whether endpoints that are not ready are published too (<c>publishNotReadyAddresses</c>, or the older annotation).</summary>
    public bool PublishNotReady { get; private init; }

    /// <summary>The raw ExternalName when it is not a domain name, to be reported.</summary>
    public string? InvalidExternalName { get; private init; }

    public static ServiceInfo From(V1Service service)
    {
        var spec = service.Spec;
        var @namespace = Lower(service.Metadata?.NamespaceProperty) ?? "default";
        var name = Lower(service.Metadata?.Name) ?? throw new ArgumentException("The Service has no metadata.name", nameof(service));
        if (string.Equals(spec?.Type, "ExternalName", StringComparison.Ordinal))
        {
            var target = spec?.ExternalName?.Trim();
            var valid = IsHostName(target);
            return new ServiceInfo(@namespace, name, ServiceKind.ExternalName)
            {
                ExternalName = valid ? DomainName.Parse(target!) : null,
                InvalidExternalName = valid ? null : target ?? "",
            };
        }

        var tolerate = service.Metadata?.Annotations is { } annotations && annotations.TryGetValue(TolerateUnreadyAnnotation, out var value) &&
            string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);
        var ports = (spec?.Ports ?? [])
            .Where(p => !string.IsNullOrEmpty(p.Name) && p.Port is > 0 and <= ushort.MaxValue)
            .Select(p => new PortInfo(p.Name.ToLowerInvariant(), Lower(p.Protocol) ?? "tcp", p.Port))
            .ToArray();
        if (string.Equals(spec?.ClusterIP, "None", StringComparison.OrdinalIgnoreCase))
        {
            return new ServiceInfo(@namespace, name, ServiceKind.Headless) { Ports = ports, PublishNotReady = spec?.PublishNotReadyAddresses == true || tolerate };
        }

        var addresses = (spec?.ClusterIPs is { Count: > 0 } ips ? ips : spec?.ClusterIP is { Length: > 0 } ip ? [ip] : [])
            .Select(a => IPAddress.TryParse(a, out var parsed) ? parsed : null)
            .OfType<IPAddress>()
            .Distinct()
            .ToArray();
        return new ServiceInfo(@namespace, name, ServiceKind.ClusterIP) { ClusterIPs = addresses, Ports = ports };
    }

    /// <summary>
    /// Whether an ExternalName is a host name (RFC 1123 labels of letters, digits, dashes and, as
    /// CoreDNS allows, underscores; a trailing dot allowed). An IP address is not one.
    /// </summary>
    private static bool IsHostName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 254 || IPAddress.TryParse(name, out _))
        {
            return false;
        }

        var labels = name.EndsWith('.') ? name[..^1].Split('.') : name.Split('.');
        return labels.All(l => l.Length is > 0 and <= 63 && l.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
    }

    internal static string? Lower(string? value) => string.IsNullOrEmpty(value) ? null : value.ToLowerInvariant();
}
