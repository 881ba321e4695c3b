using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Hosting;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent.Server.Hosting;

/// <summary>Gives a worker's node agent its server.</summary>
public static class NodeAgentServerWorkerBuilderExtensions
{
    /// <summary>
    /// Serves the node's logs, exec, attach and port-forward (kubelet's port 10250) on
    /// <see cref="NodeAgentServerOptions.Address"/>; the Node reports where, so the API server reaches it.
    /// </summary>
    public static IWorkerBuilder AddNodeAgentServer(this IWorkerBuilder builder, Action<NodeAgentServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<NodeAgentServerOptions>()
            .Configure(o => configure?.Invoke(o))
            .Validate(o => o.Port is >= 0 and <= 65535, "NodeAgentServerOptions.Port must be 0 (any free port) or a TCP port")
            .ValidateOnStart();
        builder.Services.TryAddSingleton<INodeAgentServer, HostedNodeAgentServer>();
        return builder;
    }

    /// <summary>The <see cref="INodeAgentServer"/> over <see cref="NodeAgentServer"/>.</summary>
    private sealed class HostedNodeAgentServer(IOptions<NodeAgentServerOptions> options, TimeProvider timeProvider, ILogger<NodeAgentServer> logger) : INodeAgentServer
    {
        private NodeAgentServer? _server;

        public async Task<IPEndPoint> StartAsync(INodeRuntime runtime, CancellationToken cancellationToken)
        {
            _server = await NodeAgentServer.StartAsync(runtime, options.Value, timeProvider, logger, cancellationToken).ConfigureAwait(false);
            return _server.EndPoint!;
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _server, null) is { } server)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
