using System.Net;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Networking;

namespace Orchestration.Controllers.Nodes;

/// <summary>Where nodes get their pod CIDRs from.</summary>
public sealed class NodeIpamOptions
{
    /// <summary>The cluster's pod network.</summary>
    public string ClusterCidr { get; set; } = "10.244.0.0/16";

    /// <summary>The prefix length of each node's pod CIDR.</summary>
    public int NodeCidrMaskSize { get; set; } = 24;
}

/// <summary>
/// Node IPAM: gives each node without one a pod CIDR of its own from the cluster CIDR (the first
/// block no other node has). One worker, so two nodes never get the same block. When the cluster
/// CIDR is used up, the node gets a CIDRNotAvailable event and is looked at again later.
/// </summary>
public sealed partial class NodeIpamController(IClusterClient client, IOptions<NodeIpamOptions> options, ILogger<NodeIpamController> logger, EventRecorder? events = null, ControllerContext? context = null) : IController
{
    // Blocks handed out that the node cache may not show yet (node name to block): with the cache
    // lagging, they must still count as taken.
    private readonly Dictionary<string, string> _recent = new(StringComparer.Ordinal);

    /// <summary>How long a node that found no free block waits before it is looked at again.</summary>
    public static readonly TimeSpan ExhaustedRetry = TimeSpan.FromSeconds(30);

    /// <summary>Registers the controller: nodes, one at a time.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Node>();
        builder.Workers = 1;
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        V1Node node;
        try
        {
            node = await client.GetAsync<V1Node>(null, key.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }

        if (!string.IsNullOrEmpty(node.Spec?.PodCIDR))
        {
            return ReconcileResult.Done;
        }

        var taken = (await NodesAsync(cancellationToken).ConfigureAwait(false))
            .SelectMany(n => n.Spec?.PodCIDRs ?? (n.Spec?.PodCIDR is { } one ? [one] : []))
            .ToHashSet(StringComparer.Ordinal);
        taken.UnionWith(_recent.Values);
        var cidr = Blocks(options.Value).FirstOrDefault(b => !taken.Contains(b));
        if (cidr is null)
        {
            // Not an error to retry fast: nothing frees a block but a node going away, which brings its own event.
            LogNoFreeCidr(key.Name, options.Value.ClusterCidr, options.Value.NodeCidrMaskSize);
            if (events is not null)
            {
                await events.RecordAsync(node, "Normal", "CIDRNotAvailable", $"Node {key.Name} status is now: CIDRNotAvailable", "cidrAllocator", cancellationToken).ConfigureAwait(false);
            }

            return ReconcileResult.After(ExhaustedRetry);
        }

        await client.PatchAsync<V1Node>(null, key.Name, new ObjectPatch(PatchKind.Merge, $"{{\"spec\":{{\"podCIDR\":\"{cidr}\",\"podCIDRs\":[\"{cidr}\"]}}}}"), cancellationToken).ConfigureAwait(false);
        _recent[key.Name] = cidr;
        LogCidrAssigned(key.Name, cidr);
        return ReconcileResult.Done;
    }

    /// <summary>
    /// Every node: from the shared cache under the controller manager (a list of thousands of nodes
    /// per node would make registering them quadratic), else a consistent list.
    /// </summary>
    private async Task<IReadOnlyList<V1Node>> NodesAsync(CancellationToken cancellationToken)
    {
        if (context?.Current?.For<V1Node>() is { HasSynced: true } informer)
        {
            var nodes = informer.Cache.List();
            var byName = nodes.ToDictionary(n => n.Metadata.Name, StringComparer.Ordinal);
            foreach (var (name, block) in _recent.ToList())
            {
                // Shown by the cache, or gone (a node is in the cache before it gets a block): forgotten.
                if (!byName.TryGetValue(name, out var node) || node.Spec?.PodCIDR == block)
                {
                    _recent.Remove(name);
                }
            }

            return nodes;
        }

        _recent.Clear();
        return (await client.ListAsync<V1Node>(null, null, cancellationToken).ConfigureAwait(false)).Items;
    }

    /// <summary>The node-sized blocks of the cluster CIDR, in order.</summary>
    public static IEnumerable<string> Blocks(NodeIpamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var network = IPNetwork.Parse(options.ClusterCidr);
        if (options.NodeCidrMaskSize < network.PrefixLength || options.NodeCidrMaskSize > 30)
        {
            throw new ArgumentException($"a node CIDR of /{options.NodeCidrMaskSize} does not fit in {options.ClusterCidr}");
        }

        var count = 1L << (options.NodeCidrMaskSize - network.PrefixLength);
        var size = 1L << (32 - options.NodeCidrMaskSize);
        for (long i = 0; i < count; i++)
        {
            yield return $"{Ipv4.AddressAt(network, i * size)}/{options.NodeCidrMaskSize}";
        }
    }

    [LoggerMessage(EventId = 1490, Level = LogLevel.Warning, Message = "Node {Node} gets no pod CIDR: the cluster CIDR {Cidr} has no free /{Size} left")]
    private partial void LogNoFreeCidr(string node, string cidr, int size);

    [LoggerMessage(EventId = 1491, Level = LogLevel.Information, Message = "Node {Node} gets pod CIDR {Cidr}")]
    private partial void LogCidrAssigned(string node, string cidr);
}
