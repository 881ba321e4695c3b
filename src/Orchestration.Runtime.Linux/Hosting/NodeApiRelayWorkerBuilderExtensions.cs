using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orchestration.Hosting;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Hosting;

/// <summary>Lets a worker's pods reach the API server.</summary>
public static class NodeApiRelayWorkerBuilderExtensions
{
    /// <summary>
    /// Runs the <see cref="NodeApiRelay"/> on the worker's node: the <c>kubernetes</c> Service's
    /// endpoint inside the node, relayed to the API servers <paramref name="configure"/> names (the
    /// ones the worker itself uses), so that pods' in-cluster clients reach the API.
    /// </summary>
    public static IWorkerBuilder UseNodeApiRelay(this IWorkerBuilder builder, Action<NodeApiRelayOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<NodeApiRelayOptions>()
            .Configure(configure)
            .Validate(o => o.ListenEndPoint.Port > 0 && o.Upstreams.All(u => u.Port is > 0 and <= 65535), "NodeApiRelayOptions: the listen endpoint and every upstream need a TCP port")
            .ValidateOnStart();
        if (!builder.Services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(NodeApiRelay)))
        {
            builder.Services.AddHostedService<NodeApiRelay>();
        }

        return builder;
    }
}
