using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Orchestration.Networking;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>A regular chain and its rules, in nft's syntax.</summary>
internal sealed record NftChain(string Name, IReadOnlyList<string> Rules)
{
    public bool Equals(NftChain? other) => other is not null && Name == other.Name && Rules.SequenceEqual(other.Rules);

    public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);
}

/// <summary>An element of one of the table's verdict maps.</summary>
internal sealed record NftElement(string Map, string Key, string Verdict);

/// <summary>A client-affinity set: the sources that went to one endpoint, each forgotten after the timeout.</summary>
internal sealed record NftAffinitySet(string Name, long TimeoutSeconds);

/// <summary>What one Service port adds to the table: its chains, its map elements, its affinity sets.</summary>
internal sealed record PortProgram(IReadOnlyList<NftChain> Chains, IReadOnlyList<NftElement> Elements, IReadOnlyList<NftAffinitySet> Sets);

/// <summary>
/// The proxy's nftables table, written as nft scripts: a fixed skeleton (verdict maps keyed by
/// destination address, protocol and port, so a packet costs one lookup however many Services there
/// are; reject for Services without endpoints; masquerade by mark) and, per Service port, a chain
/// that translates to one of its endpoints at random (or, under ClientIP affinity, through an
/// endpoint chain to the endpoint a client's address went to before). A full script replaces the table in one transaction; a change
/// script touches only the chains, sets and elements of the ports that changed.
/// </summary>
internal static class NftablesRuleset
{
    /// <summary>The packet mark that asks postrouting to masquerade.</summary>
    public const int MasqueradeMark = 0x4000;

    public const string ServiceIps = "service-ips";
    public const string ServiceNodePorts = "service-nodeports";
    public const string NoEndpointServices = "no-endpoint-services";
    public const string NoEndpointNodePorts = "no-endpoint-nodeports";
    private const string Reject = "goto reject-chain";

    /// <summary>The table's fixed part, as a block.</summary>
    public static string Skeleton(string table) => $$"""
        table ip {{table}} {
          comment "Service addresses of the Orchestration network proxy";
          map {{ServiceIps}} {
            type ipv4_addr . inet_proto . inet_service : verdict;
          }
          map {{ServiceNodePorts}} {
            type inet_proto . inet_service : verdict;
          }
          map {{NoEndpointServices}} {
            type ipv4_addr . inet_proto . inet_service : verdict;
          }
          map {{NoEndpointNodePorts}} {
            type inet_proto . inet_service : verdict;
          }
          chain reject-chain {
            reject;
          }
          chain endpoints-check {
            ip daddr . meta l4proto . th dport vmap @{{NoEndpointServices}};
            fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @{{NoEndpointNodePorts}};
          }
          chain filter-prerouting {
            type filter hook prerouting priority -110; policy accept;
            ct state new jump endpoints-check;
          }
          chain filter-output {
            type filter hook output priority -110; policy accept;
            ct state new jump endpoints-check;
          }
          chain mark-for-masquerade {
            meta mark set meta mark | {{MasqueradeMark}};
          }
          chain masquerading {
            meta mark & {{MasqueradeMark}} == 0 return;
            meta mark set meta mark ^ {{MasqueradeMark}};
            masquerade fully-random;
          }
          chain services {
            ip daddr . meta l4proto . th dport vmap @{{ServiceIps}};
            fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @{{ServiceNodePorts}};
          }
          chain nat-prerouting {
            type nat hook prerouting priority -100; policy accept;
            jump services;
          }
          chain nat-output {
            type nat hook output priority -100; policy accept;
            jump services;
          }
          chain nat-postrouting {
            type nat hook postrouting priority 100; policy accept;
            jump masquerading;
          }
        }

        """;

    /// <summary>
    /// The chains, elements and sets of one Service port. Traffic to a cluster IP from outside
    /// <paramref name="clusterCidr"/> is masqueraded (its replies must come back through this node),
    /// as is traffic from outside (node port, external and load-balancer IPs) unless the external
    /// policy is Local, and a pod that reaches itself through its Service (hairpin).
    /// </summary>
    public static PortProgram For(ServicePort port, string? clusterCidr)
    {
        var name = port.Name;
        var proto = Proto(name.Protocol);
        var label = $"{name.Namespace}/{name.Service}/{proto}/{(name.Port.Length > 0 ? name.Port : "p" + port.Port.ToString(CultureInfo.InvariantCulture))}";
        var key = name.ToString();
        var serviceChain = $"svc-{Hash(key)}-{label}";
        var externalChain = $"ext-{Hash(key)}-{label}";
        var chains = new List<NftChain>();
        var sets = new List<NftAffinitySet>();
        var elements = new List<NftElement>();
        var stickySeconds = port.StickyFor is { } sticky ? Math.Max(1, (long)sticky.TotalSeconds) : 0;

        // Endpoint chains only under ClientIP affinity, where each endpoint records its clients in a
        // set of its own; otherwise the Service's chain translates to the endpoint itself, which keeps
        // the table at one chain per Service port.
        var endpointChains = new Dictionary<ServiceEndpoint, (string Chain, string Set)>();
        var endpoints = port.ClusterEndpoints.Concat(port.ExternalEndpoints).Where(e => e.Address.AddressFamily == AddressFamily.InterNetwork).Distinct().ToList();
        foreach (var endpoint in stickySeconds > 0 ? endpoints : [])
        {
            var endpointKey = $"{key}@{endpoint}";
            var chain = $"sep-{Hash(endpointKey)}-{label}__{endpoint.Address}/{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
            var set = $"aff-{Hash(endpointKey + "/" + stickySeconds.ToString(CultureInfo.InvariantCulture))}";
            sets.Add(new NftAffinitySet(set, stickySeconds));
            chains.Add(new NftChain(chain, [$"ip saddr {endpoint.Address} jump mark-for-masquerade", $"update @{set} {{ ip saddr }}", Dnat(proto, endpoint)]));
            endpointChains[endpoint] = (chain, set);
        }

        var clusterIPs = port.ClusterIPs.Where(IsIpv4).ToList();
        var clusterEndpoints = port.ClusterEndpoints.Where(endpoints.Contains).ToList();
        if (clusterEndpoints.Count > 0)
        {
            var rules = new List<string>();
            if (clusterCidr is not null && clusterIPs.Count > 0)
            {
                rules.AddRange(clusterIPs.Select(ip => $"ip daddr {ip} ip saddr != {clusterCidr} jump mark-for-masquerade"));
            }

            rules.AddRange(Balance(proto, clusterEndpoints, endpointChains));
            chains.Add(new NftChain(serviceChain, rules));
        }

        foreach (var ip in clusterIPs)
        {
            elements.Add(clusterEndpoints.Count > 0
                ? new NftElement(ServiceIps, $"{ip} . {proto} . {port.Port}", $"goto {serviceChain}")
                : new NftElement(NoEndpointServices, $"{ip} . {proto} . {port.Port}", Reject));
        }

        if (port.HasExternalAddresses)
        {
            var externalEndpoints = port.ExternalEndpoints.Where(endpoints.Contains).ToList();
            var verdict = Reject;
            if (externalEndpoints.Count > 0)
            {
                var rules = new List<string>();
                if (!port.ExternalPolicyLocal)
                {
                    rules.Add("jump mark-for-masquerade");
                }

                if (!port.ExternalPolicyLocal && clusterEndpoints.Count > 0 && clusterEndpoints.SequenceEqual(externalEndpoints))
                {
                    rules.Add($"goto {serviceChain}");
                }
                else
                {
                    rules.AddRange(Balance(proto, externalEndpoints, endpointChains));
                }

                chains.Add(new NftChain(externalChain, rules));
                verdict = $"goto {externalChain}";
            }

            var reachable = externalEndpoints.Count > 0;
            foreach (var ip in port.ExternalIPs.Concat(port.LoadBalancerIPs).Where(IsIpv4).Distinct())
            {
                elements.Add(new NftElement(reachable ? ServiceIps : NoEndpointServices, $"{ip} . {proto} . {port.Port}", verdict));
            }

            if (port.NodePort is { } nodePort)
            {
                elements.Add(new NftElement(reachable ? ServiceNodePorts : NoEndpointNodePorts, $"{proto} . {nodePort}", verdict));
            }
        }

        return new PortProgram(chains, elements, sets);
    }

    /// <summary>A script that replaces the whole table (atomically: nft applies a file as one transaction).</summary>
    public static string Full(string table, IEnumerable<PortProgram> programs)
    {
        var list = programs as IReadOnlyCollection<PortProgram> ?? programs.ToList();
        var script = new StringBuilder(1024 + (list.Count * 512));
        script.Append("add table ip ").Append(table).Append('\n');
        script.Append("delete table ip ").Append(table).Append('\n');
        script.Append(Skeleton(table));
        script.Append("table ip ").Append(table).Append(" {\n");
        foreach (var program in list)
        {
            foreach (var set in program.Sets)
            {
                AppendSetBlock(script, set);
            }

            foreach (var chain in program.Chains)
            {
                script.Append("  chain ").Append(chain.Name).Append(" {\n");
                foreach (var rule in chain.Rules)
                {
                    script.Append("    ").Append(rule).Append(";\n");
                }

                script.Append("  }\n");
            }
        }

        script.Append("}\n");
        foreach (var group in list.SelectMany(p => p.Elements).GroupBy(e => e.Map))
        {
            AppendElements(script, "add", table, group.Key, group.Select(e => $"{e.Key} : {e.Verdict}"));
        }

        return script.ToString();
    }

    /// <summary>A script that turns the table from <paramref name="previous"/> into <paramref name="next"/>, touching only what differs; empty when nothing does.</summary>
    public static string Changes(string table, IReadOnlyDictionary<ServicePortName, PortProgram> previous, IReadOnlyDictionary<ServicePortName, PortProgram> next)
    {
        var oldChains = new Dictionary<string, NftChain>(StringComparer.Ordinal);
        var newChains = new Dictionary<string, NftChain>(StringComparer.Ordinal);
        var oldElements = new HashSet<NftElement>();
        var newElements = new HashSet<NftElement>();
        var oldSets = new HashSet<NftAffinitySet>();
        var newSets = new HashSet<NftAffinitySet>();
        foreach (var (name, program) in previous)
        {
            if (next.TryGetValue(name, out var other) && ReferenceEquals(program, other))
            {
                continue;
            }

            Collect(program, oldChains, oldElements, oldSets);
        }

        foreach (var (name, program) in next)
        {
            if (previous.TryGetValue(name, out var other) && ReferenceEquals(program, other))
            {
                continue;
            }

            Collect(program, newChains, newElements, newSets);
        }

        var script = new StringBuilder();

        // Order matters inside the transaction: what a rule or element refers to must exist when it
        // is added, and nothing may refer to a chain or set when it is deleted.
        foreach (var set in newSets.Except(oldSets))
        {
            script.Append("add set ip ").Append(table).Append(' ').Append(set.Name)
                .Append(" { type ipv4_addr; flags dynamic,timeout; timeout ").Append(set.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)).Append("s; }\n");
        }

        foreach (var chain in newChains.Values.Where(c => !oldChains.ContainsKey(c.Name)))
        {
            script.Append("add chain ip ").Append(table).Append(' ').Append(chain.Name).Append('\n');
        }

        AppendElements(script, "delete", table, oldElements.Except(newElements));
        foreach (var chain in oldChains.Values.Where(c => !newChains.TryGetValue(c.Name, out var now) || !now.Equals(c)))
        {
            script.Append("flush chain ip ").Append(table).Append(' ').Append(chain.Name).Append('\n');
        }

        foreach (var chain in newChains.Values.Where(c => !oldChains.TryGetValue(c.Name, out var was) || !was.Equals(c)))
        {
            foreach (var rule in chain.Rules)
            {
                script.Append("add rule ip ").Append(table).Append(' ').Append(chain.Name).Append(' ').Append(rule).Append('\n');
            }
        }

        AppendElements(script, "add", table, newElements.Except(oldElements));
        foreach (var chain in oldChains.Keys.Where(c => !newChains.ContainsKey(c)))
        {
            script.Append("delete chain ip ").Append(table).Append(' ').Append(chain).Append('\n');
        }

        foreach (var set in oldSets.Except(newSets))
        {
            script.Append("delete set ip ").Append(table).Append(' ').Append(set.Name).Append('\n');
        }

        return script.ToString();
    }

    /// <summary>nft's name for the protocol.</summary>
    public static string Proto(ServiceProtocol protocol) => protocol switch
    {
        ServiceProtocol.Udp => "udp",
        ServiceProtocol.Sctp => "sctp",
        _ => "tcp",
    };

    // Each rule takes its endpoint with probability 1/(endpoints left), so every endpoint gets 1/N;
    // rules rather than an anonymous numgen verdict map, because the kernel binds each anonymous set
    // by walking the whole transaction, which at 10,000 Services turns a full sync quadratic.
    private static IEnumerable<string> Balance(string proto, List<ServiceEndpoint> endpoints, Dictionary<ServiceEndpoint, (string Chain, string Set)> chains)
    {
        if (chains.Count > 0)
        {
            foreach (var endpoint in endpoints)
            {
                yield return $"ip saddr @{chains[endpoint].Set} goto {chains[endpoint].Chain}";
            }
        }
        else
        {
            // A pod that reaches its own Service must be masqueraded, or the reply would not come
            // back through the translation; it is marked whichever endpoint it then lands on.
            foreach (var endpoint in endpoints)
            {
                yield return $"ip saddr {endpoint.Address} jump mark-for-masquerade";
            }
        }

        for (var i = 0; i < endpoints.Count; i++)
        {
            var target = chains.Count > 0 ? $"goto {chains[endpoints[i]].Chain}" : Dnat(proto, endpoints[i]);
            var left = endpoints.Count - i;
            yield return left == 1 ? target : $"numgen random mod {left.ToString(CultureInfo.InvariantCulture)} == 0 {target}";
        }
    }

    private static string Dnat(string proto, ServiceEndpoint endpoint) =>
        $"meta l4proto {proto} dnat to {endpoint.Address}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";

    private static void Collect(PortProgram program, Dictionary<string, NftChain> chains, HashSet<NftElement> elements, HashSet<NftAffinitySet> sets)
    {
        foreach (var chain in program.Chains)
        {
            chains[chain.Name] = chain;
        }

        elements.UnionWith(program.Elements);
        sets.UnionWith(program.Sets);
    }

    private static void AppendSetBlock(StringBuilder script, NftAffinitySet set) =>
        script.Append("  set ").Append(set.Name).Append(" {\n    type ipv4_addr;\n    flags dynamic,timeout;\n    timeout ")
            .Append(set.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)).Append("s;\n  }\n");

    private static void AppendElements(StringBuilder script, string verb, string table, IEnumerable<NftElement> elements)
    {
        foreach (var group in elements.GroupBy(e => e.Map))
        {
            // Deleting takes keys alone; adding takes key : verdict.
            AppendElements(script, verb, table, group.Key, group.Select(e => verb == "delete" ? e.Key : $"{e.Key} : {e.Verdict}"));
        }
    }

    private static void AppendElements(StringBuilder script, string verb, string table, string map, IEnumerable<string> items)
    {
        // Long element lists are split so that no single command line grows without bound.
        foreach (var chunk in items.Chunk(1000))
        {
            script.Append(verb).Append(" element ip ").Append(table).Append(' ').Append(map).Append(" { ")
                .AppendJoin(", ", chunk).Append(" }\n");
        }
    }

    private static bool IsIpv4(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork;

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..8];
}
