using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Orchestration.Networking;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// A regular chain and its rules, in nft's syntax: one text of lines <c>"    RULE;\n"</c>, as both a
/// table block and an <c>add chain</c> block take them (one string per chain, not per rule, keeps a
/// table of 10,000 Services to 10,000 strings of rules).
/// </summary>
internal sealed record NftChain(string Name, string Rules);

/// <summary>An element of one of the proxy's verdict maps (the main table's or its shard's, by <see cref="NftablesRuleset.IsMainMap"/>).</summary>
internal sealed record NftElement(string Map, string Key, string Verdict);

/// <summary>A client-affinity set: the sources that went to one endpoint, each forgotten after the timeout.</summary>
internal sealed record NftAffinitySet(string Name, long TimeoutSeconds);

/// <summary>
/// What one Service port adds to the ruleset: its chains, its map elements, its affinity sets, and
/// <paramref name="ShardKey"/>, a stable hash of its name that picks its shard table.
/// </summary>
internal sealed record PortProgram(uint ShardKey, IReadOnlyList<NftChain> Chains, IReadOnlyList<NftElement> Elements, IReadOnlyList<NftAffinitySet> Sets);

/// <summary>A chain or set of a shard that no Service port uses any more: emptied at once, deleted later together with others.</summary>
internal readonly record struct NftStaleObject(bool IsSet, string Table, string Name);

/// <summary>
/// The proxy's nftables tables (see <see cref="NftablesLayout"/>), written as nft scripts. The main
/// table holds what every packet or every Service shares: the filter hooks that reject new
/// connections to Service ports without endpoints (maps keyed by destination address, protocol and
/// port) and masquerade by mark. Each shard table holds NAT hooks that look a connection's first
/// packet up in the shard's verdict maps (one lookup however many Services the shard has) and, per
/// Service port, a chain that translates to one of its endpoints at random (or, under ClientIP
/// affinity, through an endpoint chain to the endpoint a client's address went to before). A full
/// script replaces all the tables in one transaction; a change script touches only the chains, sets
/// and maps of the ports that changed.
/// </summary>
internal static class NftablesRuleset
{
    /// <summary>The packet mark that asks postrouting to masquerade.</summary>
    public const int MasqueradeMark = 0x4000;

    public const string ServiceIps = "service-ips";
    public const string ServiceNodePorts = "service-nodeports";
    public const string NoEndpointServices = "no-endpoint-services";
    public const string NoEndpointNodePorts = "no-endpoint-nodeports";

    /// <summary>
    /// How many chains and sets may wait for deletion. Deleting makes nft 1.0 fetch every chain of
    /// the namespace (a cost that grows with the number of Services), so it is done for many at once.
    /// </summary>
    public const int StaleLimit = 256;

    private const string Reject = "goto reject-chain";
    private const string AddressPortMapType = "ipv4_addr . inet_proto . inet_service : verdict";
    private const string PortMapType = "inet_proto . inet_service : verdict";

    /// <summary>The main table: the filter hooks that reject connections to Service ports without endpoints, and masquerading.</summary>
    public static string MainSkeleton(string table) => $$"""
        table ip {{table}} {
          comment "Orchestration network proxy: rejects for Services without endpoints, masquerading";
          map {{NoEndpointServices}} {
            type {{AddressPortMapType}};
          }
          map {{NoEndpointNodePorts}} {
            type {{PortMapType}};
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
          chain masquerading {
            meta mark & {{MasqueradeMark}} == 0 return;
            meta mark set meta mark ^ {{MasqueradeMark}};
            masquerade fully-random;
          }
          chain nat-postrouting {
            type nat hook postrouting priority 100; policy accept;
            jump masquerading;
          }
        }

        """;

    /// <summary>A shard table's fixed part, left open for the shard's Service port chains and sets.</summary>
    public static string ShardSkeletonOpen(string table) => $$"""
        table ip {{table}} {
          comment "Orchestration network proxy: Service addresses of one shard";
          map {{ServiceIps}} {
            type {{AddressPortMapType}};
          }
          map {{ServiceNodePorts}} {
            type {{PortMapType}};
          }
          chain mark-for-masquerade {
            meta mark set meta mark | {{MasqueradeMark}};
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

        """;

    /// <summary>Whether <paramref name="map"/> is one of the main table's maps (the Service ports without endpoints).</summary>
    public static bool IsMainMap(string map) => map is NoEndpointServices or NoEndpointNodePorts;

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
        var portText = port.Port.ToString(CultureInfo.InvariantCulture);
        var label = $"{name.Namespace}/{name.Service}/{proto}/{(name.Port.Length > 0 ? name.Port : "p" + portText)}";
        var key = name.ToString();
        var portHash = Hash(key);
        var serviceChain = $"svc-{portHash}-{label}";
        var externalChain = $"ext-{portHash}-{label}";
        var chains = new List<NftChain>(2);
        var sets = new List<NftAffinitySet>();
        var elements = new List<NftElement>(port.ClusterIPs.Count);
        var stickySeconds = port.StickyFor is { } sticky ? Math.Max(1, (long)sticky.TotalSeconds) : 0;
        var rules = new StringBuilder(128 * (port.ClusterEndpoints.Count + 2));

        var endpoints = new List<ServiceEndpoint>(port.ClusterEndpoints.Count);
        var ipv4 = new HashSet<ServiceEndpoint>();
        foreach (var endpoint in port.ClusterEndpoints.Concat(port.ExternalEndpoints))
        {
            if (endpoint.Address.AddressFamily == AddressFamily.InterNetwork && ipv4.Add(endpoint))
            {
                endpoints.Add(endpoint);
            }
        }

        // Endpoint chains only under ClientIP affinity, where each endpoint records its clients in a
        // set of its own; otherwise the Service's chain translates to the endpoint itself, which keeps
        // the table at one chain per Service port.
        var endpointChains = new Dictionary<ServiceEndpoint, (string Chain, string Set)>();
        foreach (var endpoint in stickySeconds > 0 ? endpoints : [])
        {
            var endpointKey = $"{key}@{endpoint}";
            var chain = $"sep-{Hash(endpointKey)}-{label}__{endpoint.Address}/{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";
            var set = $"aff-{Hash(endpointKey + "/" + stickySeconds.ToString(CultureInfo.InvariantCulture))}";
            sets.Add(new NftAffinitySet(set, stickySeconds));
            rules.Clear()
                .Append(CultureInfo.InvariantCulture, $"    ip saddr {endpoint.Address} jump mark-for-masquerade;\n")
                .Append(CultureInfo.InvariantCulture, $"    update @{set} {{ ip saddr }};\n");
            AppendDnat(rules, proto, endpoint).Append(";\n");
            chains.Add(new NftChain(chain, rules.ToString()));
            endpointChains[endpoint] = (chain, set);
        }

        var clusterIPs = port.ClusterIPs.Where(IsIpv4).ToList();
        var clusterEndpoints = port.ClusterEndpoints.Where(ipv4.Contains).ToList();
        if (clusterEndpoints.Count > 0)
        {
            rules.Clear();
            if (clusterCidr is not null)
            {
                foreach (var ip in clusterIPs)
                {
                    rules.Append(CultureInfo.InvariantCulture, $"    ip daddr {ip} ip saddr != {clusterCidr} jump mark-for-masquerade;\n");
                }
            }

            Balance(rules, proto, clusterEndpoints, endpointChains);
            chains.Add(new NftChain(serviceChain, rules.ToString()));
        }

        foreach (var ip in clusterIPs)
        {
            elements.Add(clusterEndpoints.Count > 0
                ? new NftElement(ServiceIps, $"{ip} . {proto} . {portText}", $"goto {serviceChain}")
                : new NftElement(NoEndpointServices, $"{ip} . {proto} . {portText}", Reject));
        }

        if (port.HasExternalAddresses)
        {
            var externalEndpoints = port.ExternalEndpoints.Where(ipv4.Contains).ToList();
            var verdict = Reject;
            if (externalEndpoints.Count > 0)
            {
                rules.Clear();
                if (!port.ExternalPolicyLocal)
                {
                    rules.Append("    jump mark-for-masquerade;\n");
                }

                if (!port.ExternalPolicyLocal && clusterEndpoints.Count > 0 && clusterEndpoints.SequenceEqual(externalEndpoints))
                {
                    rules.Append(CultureInfo.InvariantCulture, $"    goto {serviceChain};\n");
                }
                else
                {
                    Balance(rules, proto, externalEndpoints, endpointChains);
                }

                chains.Add(new NftChain(externalChain, rules.ToString()));
                verdict = $"goto {externalChain}";
            }

            var reachable = externalEndpoints.Count > 0;
            foreach (var ip in port.ExternalIPs.Concat(port.LoadBalancerIPs).Where(IsIpv4).Distinct())
            {
                elements.Add(new NftElement(reachable ? ServiceIps : NoEndpointServices, $"{ip} . {proto} . {portText}", verdict));
            }

            if (port.NodePort is { } nodePort)
            {
                elements.Add(new NftElement(reachable ? ServiceNodePorts : NoEndpointNodePorts, $"{proto} . {nodePort.ToString(CultureInfo.InvariantCulture)}", verdict));
            }
        }

        return new PortProgram(uint.Parse(portHash, NumberStyles.HexNumber, CultureInfo.InvariantCulture), chains, elements, sets);
    }

    /// <summary>
    /// A script that replaces all of the proxy's tables (atomically: nft applies a script as one
    /// transaction): <paramref name="existing"/> (tables of an earlier layout, found in the namespace)
    /// are deleted, and the tables of <paramref name="layout"/> written anew.
    /// </summary>
    public static string Full(NftablesLayout layout, IEnumerable<string> existing, IReadOnlyCollection<PortProgram> programs)
    {
        var shards = new List<PortProgram>[layout.Shards];
        for (var i = 0; i < shards.Length; i++)
        {
            shards[i] = new List<PortProgram>((programs.Count / shards.Length) + 16);
        }

        foreach (var program in programs)
        {
            shards[program.ShardKey % (uint)shards.Length].Add(program);
        }

        var script = new StringBuilder(4096 + (programs.Count * 1536));

        // "add" first, so that deleting a table that is not there is no error.
        foreach (var table in layout.Tables.Concat(existing).Distinct(StringComparer.Ordinal))
        {
            script.Append("add table ip ").Append(table).Append("\ndelete table ip ").Append(table).Append('\n');
        }

        script.Append(MainSkeleton(layout.Prefix));
        for (var i = 0; i < shards.Length; i++)
        {
            script.Append(ShardSkeletonOpen(layout.ShardTables[i]));
            foreach (var program in shards[i])
            {
                foreach (var set in program.Sets)
                {
                    AppendSetBlock(script, set);
                }

                foreach (var chain in program.Chains)
                {
                    script.Append("  chain ").Append(chain.Name).Append(" {\n");
                    AppendRules(script, chain);
                    script.Append("  }\n");
                }
            }

            script.Append("}\n");
        }

        for (var i = 0; i < shards.Length; i++)
        {
            foreach (var map in (string[])[ServiceIps, ServiceNodePorts])
            {
                AppendElements(script, "add element", layout.ShardTables[i], map, shards[i].SelectMany(p => p.Elements).Where(e => e.Map == map));
            }
        }

        foreach (var map in (string[])[NoEndpointServices, NoEndpointNodePorts])
        {
            AppendElements(script, "add element", layout.Prefix, map, programs.SelectMany(p => p.Elements).Where(e => e.Map == map));
        }

        return script.ToString();
    }

    /// <summary>
    /// A script that applies <paramref name="changes"/> (each port's program before and after, null
    /// when it is not there) to the tables, touching only the tables, chains, sets and maps of those
    /// ports; empty when nothing differs. <paramref name="elementsOf"/> gives every element a table's
    /// map holds after the change. Chains and sets no port uses any more are emptied and added to
    /// <paramref name="stale"/>, and deleted (all of <paramref name="stale"/> at once) when there are
    /// <see cref="StaleLimit"/>.
    /// </summary>
    /// <remarks>
    /// Every command is one for which nft 1.0 fetches only the list of tables (and, to empty a map,
    /// of sets) before it evaluates the script: <c>add chain</c> with its rules, <c>add set</c>,
    /// <c>add map</c> with its elements, <c>flush</c>. Never one that makes it fetch every chain of
    /// the namespace (<c>add rule</c>, <c>add element</c>, <c>delete</c>), whose cost grows with the
    /// number of Services: an element that goes away is removed by emptying its map and adding the
    /// map's elements again, which costs the size of one shard. Only the deletion of stale chains and
    /// sets pays for the whole list.
    /// </remarks>
    public static string Changes(
        NftablesLayout layout,
        IReadOnlyCollection<(PortProgram? Old, PortProgram? New)> changes,
        Func<string, string, IEnumerable<NftElement>> elementsOf,
        HashSet<NftStaleObject> stale)
    {
        var oldChains = new Dictionary<(string Table, string Name), NftChain>();
        var newChains = new Dictionary<(string Table, string Name), NftChain>();
        var oldElements = new HashSet<(string Table, NftElement Element)>();
        var newElements = new HashSet<(string Table, NftElement Element)>();
        var oldSets = new HashSet<(string Table, NftAffinitySet Set)>();
        var newSets = new HashSet<(string Table, NftAffinitySet Set)>();
        foreach (var (was, now) in changes)
        {
            if (was is not null)
            {
                Collect(layout, was, oldChains, oldElements, oldSets);
            }

            if (now is not null)
            {
                Collect(layout, now, newChains, newElements, newSets);
            }
        }

        var script = new StringBuilder();

        // Order matters inside the transaction: what a rule or element refers to must exist when it
        // is added. Sets are declared again even when they exist: nft resolves a rule's @set against
        // what it has fetched, which here is the list of tables only. Declaring an existing set with
        // the same definition leaves it and its elements as they are.
        foreach (var (table, set) in newSets)
        {
            script.Append("add set ip ").Append(table).Append(' ').Append(set.Name)
                .Append(" { type ipv4_addr; flags dynamic,timeout; timeout ").Append(set.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)).Append("s; }\n");
            stale.Remove(new NftStaleObject(true, table, set.Name));
        }

        foreach (var (key, chain) in newChains)
        {
            if (!oldChains.ContainsKey(key))
            {
                script.Append("add chain ip ").Append(key.Table).Append(' ').Append(chain.Name).Append('\n');
                stale.Remove(new NftStaleObject(false, key.Table, chain.Name));
            }
        }

        foreach (var (key, chain) in oldChains)
        {
            if (!newChains.TryGetValue(key, out var now) || !now.Equals(chain))
            {
                script.Append("flush chain ip ").Append(key.Table).Append(' ').Append(chain.Name).Append('\n');
            }
        }

        // A map that loses or changes an element is emptied and filled again with all of its
        // elements (one shard's, or the few Service ports without endpoints); one that only gains
        // elements gets them added.
        var refilled = new HashSet<(string Table, string Map)>();
        foreach (var (table, element) in oldElements)
        {
            if (!newElements.Contains((table, element)))
            {
                refilled.Add((table, element.Map));
            }
        }

        foreach (var (table, map) in refilled)
        {
            script.Append("flush map ip ").Append(table).Append(' ').Append(map).Append('\n');
            AppendElements(script, "add map", table, map, elementsOf(table, map));
        }

        foreach (var (key, chain) in newChains)
        {
            if (!oldChains.TryGetValue(key, out var was) || !was.Equals(chain))
            {
                script.Append("add chain ip ").Append(key.Table).Append(' ').Append(chain.Name).Append(" {\n");
                AppendRules(script, chain);
                script.Append("}\n");
            }
        }

        foreach (var group in newElements.Where(e => !oldElements.Contains(e) && !refilled.Contains((e.Table, e.Element.Map))).GroupBy(e => (e.Table, e.Element.Map)))
        {
            AppendElements(script, "add map", group.Key.Table, group.Key.Map, group.Select(e => e.Element));
        }

        foreach (var key in oldChains.Keys.Where(k => !newChains.ContainsKey(k)))
        {
            stale.Add(new NftStaleObject(false, key.Table, key.Name));
        }

        foreach (var (table, set) in oldSets.Where(s => !newSets.Contains(s)))
        {
            stale.Add(new NftStaleObject(true, table, set.Name));
        }

        if (stale.Count >= StaleLimit)
        {
            // Chains before sets: a set may be deleted only once no rule refers to it. Stale chains
            // are empty, and no map element or rule refers to them any more.
            foreach (var item in stale.Where(s => !s.IsSet))
            {
                script.Append("delete chain ip ").Append(item.Table).Append(' ').Append(item.Name).Append('\n');
            }

            foreach (var item in stale.Where(s => s.IsSet))
            {
                script.Append("delete set ip ").Append(item.Table).Append(' ').Append(item.Name).Append('\n');
            }

            stale.Clear();
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
    private static void Balance(StringBuilder rules, string proto, List<ServiceEndpoint> endpoints, Dictionary<ServiceEndpoint, (string Chain, string Set)> chains)
    {
        if (chains.Count > 0)
        {
            foreach (var endpoint in endpoints)
            {
                rules.Append(CultureInfo.InvariantCulture, $"    ip saddr @{chains[endpoint].Set} goto {chains[endpoint].Chain};\n");
            }
        }
        else
        {
            // A pod that reaches its own Service must be masqueraded, or the reply would not come
            // back through the translation; it is marked whichever endpoint it then lands on.
            foreach (var endpoint in endpoints)
            {
                rules.Append(CultureInfo.InvariantCulture, $"    ip saddr {endpoint.Address} jump mark-for-masquerade;\n");
            }
        }

        for (var i = 0; i < endpoints.Count; i++)
        {
            var left = endpoints.Count - i;
            rules.Append("    ");
            if (left > 1)
            {
                rules.Append(CultureInfo.InvariantCulture, $"numgen random mod {left} == 0 ");
            }

            if (chains.Count > 0)
            {
                rules.Append("goto ").Append(chains[endpoints[i]].Chain);
            }
            else
            {
                AppendDnat(rules, proto, endpoints[i]);
            }

            rules.Append(";\n");
        }
    }

    private static StringBuilder AppendDnat(StringBuilder rules, string proto, ServiceEndpoint endpoint) =>
        rules.Append(CultureInfo.InvariantCulture, $"meta l4proto {proto} dnat to {endpoint.Address}:{endpoint.Port}");

    private static void Collect(
        NftablesLayout layout,
        PortProgram program,
        Dictionary<(string Table, string Name), NftChain> chains,
        HashSet<(string Table, NftElement Element)> elements,
        HashSet<(string Table, NftAffinitySet Set)> sets)
    {
        var table = layout.TableOf(program);
        foreach (var chain in program.Chains)
        {
            chains[(table, chain.Name)] = chain;
        }

        foreach (var element in program.Elements)
        {
            elements.Add((layout.TableOf(program, element), element));
        }

        foreach (var set in program.Sets)
        {
            sets.Add((table, set));
        }
    }

    private static void AppendRules(StringBuilder script, NftChain chain) => script.Append(chain.Rules);

    private static void AppendSetBlock(StringBuilder script, NftAffinitySet set) =>
        script.Append("  set ").Append(set.Name).Append(" {\n    type ipv4_addr;\n    flags dynamic,timeout;\n    timeout ")
            .Append(set.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)).Append("s;\n  }\n");

    // "add element ip T M { k : v, ... }", or "add map ip T M { type ...; elements = { k : v, ... } }",
    // which declares the map again (as it is) so that nft needs no list of chains to add to it. Long
    // lists are split so that no single command grows without bound.
    private static void AppendElements(StringBuilder script, string command, string table, string map, IEnumerable<NftElement> elements)
    {
        var declare = command == "add map";
        foreach (var chunk in elements.Chunk(1000))
        {
            script.Append(command).Append(" ip ").Append(table).Append(' ').Append(map).Append(" { ");
            if (declare)
            {
                script.Append("type ").Append(map is ServiceIps or NoEndpointServices ? AddressPortMapType : PortMapType).Append("; elements = { ");
            }

            for (var i = 0; i < chunk.Length; i++)
            {
                script.Append(i == 0 ? "" : ", ").Append(chunk[i].Key).Append(" : ").Append(chunk[i].Verdict);
            }

            script.Append(declare ? " } }\n" : " }\n");
        }
    }

    private static bool IsIpv4(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork;

    private static string Hash(string text)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(text), hash);
        return Convert.ToHexStringLower(hash[..4]);
    }
}
