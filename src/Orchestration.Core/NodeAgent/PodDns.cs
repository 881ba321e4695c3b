using k8s.Models;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// A pod's resolv.conf from its <c>dnsPolicy</c> and <c>dnsConfig</c>, as kubelet writes it:
/// ClusterFirst (the default) gives the cluster DNS with the search list
/// <c>&lt;namespace&gt;.svc.&lt;domain&gt; svc.&lt;domain&gt; &lt;domain&gt;</c> (then the node's
/// own search domains) and <c>ndots:5</c>, except on the host network where it acts as Default;
/// ClusterFirstWithHostNet gives the cluster DNS on the host network too; Default leaves the node's
/// resolv.conf; None takes only <c>dnsConfig</c>. <c>dnsConfig</c> adds name servers and search
/// domains after the policy's and overrides options by name.
/// </summary>
internal static class PodDns
{
    /// <summary>kubelet's limits: at most 3 name servers and 32 search domains.</summary>
    public const int MaxServers = 3;

    public const int MaxSearches = 32;

    /// <summary>The pod's DNS configuration, or null for the runtime's default (the node's resolv.conf).</summary>
    public static PodDnsConfig? For(V1Pod pod, NodeAgentOptions options, IReadOnlyList<string> nodeSearches)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(options);
        var policy = pod.Spec?.DnsPolicy ?? "ClusterFirst";
        var hostNetwork = pod.Spec?.HostNetwork == true;
        var cluster = options.ClusterDns.Count > 0 && (policy == "ClusterFirstWithHostNet" || (policy == "ClusterFirst" && !hostNetwork));
        List<string> servers, searches, flags;
        if (cluster)
        {
            var ns = pod.Metadata.NamespaceProperty ?? "default";
            var domain = options.ClusterDomain.TrimEnd('.');
            servers = [.. options.ClusterDns];
            searches = [$"{ns}.svc.{domain}", $"svc.{domain}", domain, .. nodeSearches];
            flags = ["ndots:5"];
        }
        else if (policy == "None")
        {
            (servers, searches, flags) = ([], [], []);
        }
        else if (pod.Spec?.DnsConfig is null)
        {
            return null;
        }
        else
        {
            // Default with dnsConfig: the node's file is the base, which the runtime would write; the
            // agent writes it itself so that the pod's additions can follow.
            (servers, searches, flags) = ([], [.. nodeSearches], []);
        }

        if (pod.Spec?.DnsConfig is { } config)
        {
            servers.AddRange(config.Nameservers ?? []);
            searches.AddRange(config.Searches ?? []);
            foreach (var option in config.Options ?? [])
            {
                flags.RemoveAll(f => f.Split(':')[0] == option.Name);
                flags.Add(string.IsNullOrEmpty(option.Value) ? option.Name : $"{option.Name}:{option.Value}");
            }
        }

        return new PodDnsConfig(
            servers.Distinct(StringComparer.Ordinal).Take(MaxServers).ToList(),
            searches.Where(s => s.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).Take(MaxSearches).ToList(),
            flags);
    }

    /// <summary>The search domains of the node's resolv.conf (the last <c>search</c> or <c>domain</c> line wins, as in the resolver).</summary>
    public static IReadOnlyList<string> NodeSearches(string path)
    {
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            return [];
        }

        IReadOnlyList<string> searches = [];
        foreach (var line in File.ReadLines(path))
        {
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 1 && fields[0] is "search" or "domain")
            {
                searches = fields[1..].Select(f => f.TrimEnd('.')).ToList();
            }
        }

        return searches;
    }
}
