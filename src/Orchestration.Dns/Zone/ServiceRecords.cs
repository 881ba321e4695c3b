using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;

namespace Orchestration.Dns.Zone;

/// <summary>
/// The names and records one Service gives the zone (DNS specification 1.1.0, sections 2.3 to 2.5),
/// keyed by the lower-case name without its trailing dot.
/// </summary>
internal static class ServiceRecords
{
    public static Dictionary<string, DnsRecordSet> Build(ServiceInfo service, IEnumerable<SliceInfo> slices, string[] zoneLabels)
    {
        var names = new Dictionary<string, Builder>(StringComparer.Ordinal);
        string[] serviceLabels = [service.Name, service.Namespace, "svc", .. zoneLabels];
        var serviceName = new DomainName(serviceLabels);
        var serviceKey = string.Join('.', serviceLabels);
        switch (service.Kind)
        {
            case ServiceKind.ExternalName:
                if (service.ExternalName is { } target)
                {
                    Get(names, serviceKey).CanonicalName = target;
                }

                break;
            case ServiceKind.ClusterIP:
                var records = Get(names, serviceKey);
                foreach (var address in service.ClusterIPs)
                {
                    records.Add(address);
                    Get(names, ReverseNames.Of(address)).Ptr.Add(serviceName);
                }

                foreach (var port in service.Ports)
                {
                    Get(names, SrvKey(port, serviceKey)).Srv.Add(new SrvTarget(0, 100, (ushort)port.Port, serviceName));
                }

                break;
            case ServiceKind.Headless:
                AddEndpoints(names, service, slices, serviceLabels, serviceKey);
                break;
        }

        return names.ToDictionary(kv => kv.Key, kv => kv.Value.Build(), StringComparer.Ordinal);
    }

    private static void AddEndpoints(Dictionary<string, Builder> names, ServiceInfo service, IEnumerable<SliceInfo> slices, string[] serviceLabels, string serviceKey)
    {
        foreach (var slice in slices)
        {
            foreach (var endpoint in slice.Endpoints)
            {
                if (!endpoint.Ready && !service.PublishNotReady)
                {
                    continue;
                }

                // An endpoint's own name is its hostname, or else each address dashed (the
                // "system-assigned identifier" the specification leaves open, as CoreDNS spells it).
                var own = endpoint.Hostname is { } hostname
                    ? [(hostname, endpoint.Addresses)]
                    : endpoint.Addresses.Select(a => (ReverseNames.Dashed(a), new[] { a })).ToArray();
                foreach (var (label, addresses) in own)
                {
                    string[] labels = [label, .. serviceLabels];
                    var name = new DomainName(labels);
                    var records = Get(names, string.Join('.', labels));
                    foreach (var address in addresses)
                    {
                        Get(names, serviceKey).Add(address);
                        records.Add(address);
                        Get(names, ReverseNames.Of(address)).Ptr.Add(name);
                    }

                    foreach (var port in slice.Ports)
                    {
                        Get(names, SrvKey(port, serviceKey)).Srv.Add(new SrvTarget(0, 0, (ushort)port.Port, name));
                    }
                }
            }
        }

        // Equal weights that add up to about 100 (RFC 2782 leaves the values to the server).
        foreach (var builder in names.Values.Where(b => b.Srv.Count > 0))
        {
            var distinct = builder.Srv.Distinct().ToList();
            builder.Srv.Clear();
            builder.Srv.AddRange(distinct);
            var weight = (ushort)Math.Max(1, 100 / builder.Srv.Count);
            for (var i = 0; i < builder.Srv.Count; i++)
            {
                builder.Srv[i] = builder.Srv[i] with { Weight = weight };
            }
        }
    }

    private static string SrvKey(PortInfo port, string serviceKey) => $"_{port.Name}._{port.Protocol}.{serviceKey}";

    private static Builder Get(Dictionary<string, Builder> names, string key)
    {
        if (!names.TryGetValue(key, out var builder))
        {
            builder = new Builder();
            names.Add(key, builder);
        }

        return builder;
    }

    private sealed class Builder
    {
        public List<IPAddress> Addresses { get; } = [];

        public DomainName? CanonicalName { get; set; }

        public List<SrvTarget> Srv { get; } = [];

        public List<DomainName> Ptr { get; } = [];

        public void Add(IPAddress address) => Addresses.Add(address);

        public DnsRecordSet Build() => new(
            [.. Addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork).Distinct()],
            [.. Addresses.Where(a => a.AddressFamily == AddressFamily.InterNetworkV6).Distinct()],
            CanonicalName,
            [.. Srv.Distinct()],
            [.. Ptr.Distinct()],
            []);
    }
}
