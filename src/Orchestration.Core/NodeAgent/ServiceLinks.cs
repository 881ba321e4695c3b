using System.Globalization;
using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Orchestration.Client;

namespace Orchestration.NodeAgent;

/// <summary>
/// The Service variables kubelet gives every container (<c>WEB_SERVICE_HOST</c>,
/// <c>WEB_SERVICE_PORT</c>, <c>WEB_PORT_80_TCP_ADDR</c>, ...): those of every Service with a cluster
/// IP in the pod's namespace when <c>enableServiceLinks</c> is true (the default), and always the
/// <c>kubernetes</c> Service's from the default namespace.
/// </summary>
internal static class ServiceLinks
{
    /// <summary>The variables for <paramref name="pod"/>; its own env and envFrom override them.</summary>
    public static async Task<Dictionary<string, string>> ForAsync(IClusterClient client, V1Pod pod, CancellationToken cancellationToken)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        if (pod.Spec?.EnableServiceLinks != false)
        {
            foreach (var service in (await client.ListAsync<V1Service>(ns, null, cancellationToken).ConfigureAwait(false)).Items.OrderBy(s => s.Metadata.Name, StringComparer.Ordinal))
            {
                Add(service, variables);
            }
        }

        if (ns != "default" || pod.Spec?.EnableServiceLinks == false)
        {
            try
            {
                // The API server's Service is every pod's, whatever its namespace and links.
                Add(await client.GetAsync<V1Service>("default", "kubernetes", cancellationToken).ConfigureAwait(false), variables);
            }
            catch (NotFoundException)
            {
            }
        }

        return variables;
    }

    /// <summary>A Service's variables (none for a headless or ExternalName one).</summary>
    public static void Add(V1Service service, IDictionary<string, string> variables)
    {
        ArgumentNullException.ThrowIfNull(service);
        ArgumentNullException.ThrowIfNull(variables);
        var ip = service.Spec?.ClusterIP;
        var ports = service.Spec?.Ports ?? [];
        if (string.IsNullOrEmpty(ip) || ip == "None" || ports.Count == 0)
        {
            return;
        }

        var prefix = Name(service.Metadata.Name);
        variables[prefix + "_SERVICE_HOST"] = ip;
        variables[prefix + "_SERVICE_PORT"] = ports[0].Port.ToString(CultureInfo.InvariantCulture);
        foreach (var port in ports.Where(p => !string.IsNullOrEmpty(p.Name)))
        {
            variables[$"{prefix}_SERVICE_PORT_{Name(port.Name)}"] = port.Port.ToString(CultureInfo.InvariantCulture);
        }

        // Docker's link variables, which kubelet keeps for old images.
        var host = IPAddress.TryParse(ip, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip;
        variables[prefix + "_PORT"] = Url(ports[0], host);
        foreach (var port in ports)
        {
            var protocol = (port.Protocol ?? "TCP").ToUpperInvariant();
            var portPrefix = $"{prefix}_PORT_{port.Port.ToString(CultureInfo.InvariantCulture)}_{protocol}";
            variables[portPrefix] = Url(port, host);
            variables[portPrefix + "_PROTO"] = protocol.ToLowerInvariant();
            variables[portPrefix + "_PORT"] = port.Port.ToString(CultureInfo.InvariantCulture);
            variables[portPrefix + "_ADDR"] = ip;
        }
    }

    private static string Url(V1ServicePort port, string host) =>
        $"{(port.Protocol ?? "TCP").ToLowerInvariant()}://{host}:{port.Port.ToString(CultureInfo.InvariantCulture)}";

    private static string Name(string name) => name.ToUpperInvariant().Replace('-', '_');
}
