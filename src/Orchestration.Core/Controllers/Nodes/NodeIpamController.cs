using System.Net;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
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
/// block no other node has). One worker, so two nodes never get the same block.
/// </summary>
public sealed class NodeIpamController(IClusterClient client, IOptions<NodeIpamOptions> options, ILogger<NodeIpamController> logger) : IController
{
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

        var taken = (await client.ListAsync<V1Node>(null, null, cancellationToken).ConfigureAwait(false)).Items
            .SelectMany(n => n.Spec?.PodCIDRs ?? (n.Spec?.PodCIDR is { } one ? [one] : []))
            .ToHashSet(StringComparer.Ordinal);
        var cidr = Blocks(options.Value).FirstOrDefault(b => !taken.Contains(b))
            ?? throw new InvalidOperationException($"the cluster CIDR {options.Value.ClusterCidr} has no free /{options.Value.NodeCidrMaskSize} left for node {key.Name}");
        await client.PatchAsync<V1Node>(null, key.Name, new ObjectPatch(PatchKind.Merge, $"{{\"spec\":{{\"podCIDR\":\"{cidr}\",\"podCIDRs\":[\"{cidr}\"]}}}}"), cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Node {Node} gets pod CIDR {Cidr}", key.Name, cidr);
        return ReconcileResult.Done;
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
}
