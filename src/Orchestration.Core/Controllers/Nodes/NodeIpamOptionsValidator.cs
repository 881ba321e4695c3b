using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace Orchestration.Controllers.Nodes;

/// <summary>Checks at start that the pod network is an IPv4 CIDR that holds blocks of the node size.</summary>
public sealed class NodeIpamOptionsValidator : IValidateOptions<NodeIpamOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, NodeIpamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!IPNetwork.TryParse(options.ClusterCidr, out var network) || network.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
        {
            return ValidateOptionsResult.Fail($"NodeIpamOptions.ClusterCidr \"{options.ClusterCidr}\" is not an IPv4 CIDR (such as 10.244.0.0/16)");
        }

        if (options.NodeCidrMaskSize < network.PrefixLength || options.NodeCidrMaskSize > 30)
        {
            return ValidateOptionsResult.Fail($"NodeIpamOptions.NodeCidrMaskSize {options.NodeCidrMaskSize} does not fit in {options.ClusterCidr}: it must be between {network.PrefixLength} and 30");
        }

        return ValidateOptionsResult.Success;
    }
}
