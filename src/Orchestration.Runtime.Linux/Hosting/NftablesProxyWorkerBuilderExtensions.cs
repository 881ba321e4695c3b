using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Hosting;
using Orchestration.Networking;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Hosting;

/// <summary>Chooses nftables as a worker's network proxy.</summary>
public static class NftablesProxyWorkerBuilderExtensions
{
    /// <summary>
    /// Serves the cluster's Services on the worker's node with nftables (<see cref="NftablesProxy"/>), in
    /// the network namespace of the node's runtime daemon. The containerd and Docker nodes use it
    /// unless another proxy is chosen. Needs root and nftables.
    /// </summary>
    public static IWorkerBuilder UseNftablesProxy(this IWorkerBuilder builder, Action<NftablesProxyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<NftablesProxyOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => !string.IsNullOrWhiteSpace(o.TableName), "NftablesProxyOptions.TableName is required")
            .Validate(o => o.ClusterCidr is null || System.Net.IPNetwork.TryParse(o.ClusterCidr, out _), "NftablesProxyOptions.ClusterCidr must be a CIDR such as 10.244.0.0/16")
            .ValidateOnStart();
        return builder.UseNetworkProxy(sp => new NftablesProxy(
            sp.GetRequiredService<IOptions<NftablesProxyOptions>>(),
            sp.GetRequiredService<ILogger<NftablesProxy>>(),
            sp.GetService<INodeNetworkNamespace>()));
    }

    /// <summary>Serves Services with nftables unless the worker has chosen a network proxy already: what the containerd and Docker nodes call.</summary>
    public static IWorkerBuilder UseNftablesProxyByDefault(this IWorkerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Services.Any(d => d.ServiceType == typeof(INetworkProxy)) ? builder : builder.UseNftablesProxy();
    }
}
