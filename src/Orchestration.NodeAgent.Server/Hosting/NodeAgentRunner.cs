using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent.Server.Hosting;

/// <summary>
/// What every host of a real node does: connect the runtime, start the agent's server and report
/// where it listens, then run the agent until stopped. <c>AddNodeAgent()</c> and <c>orch up</c>'s
/// containerd and Docker nodes all run this.
/// </summary>
public static class NodeAgentRunner
{
    /// <summary>Runs the node until <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <param name="client">The cluster.</param>
    /// <param name="runtime">The node's runtime; connected first when it is an <see cref="IRuntimeConnection"/>.</param>
    /// <param name="options">The agent's options; the server's address and port are filled in unless given.</param>
    /// <param name="serverOptions">Where the agent's server listens.</param>
    /// <param name="timeProvider">The clock.</param>
    /// <param name="loggers">Loggers.</param>
    /// <param name="events">Where pod events go; by default a recorder over <paramref name="client"/>.</param>
    /// <param name="cancellationToken">Stops the node.</param>
    public static async Task RunAsync(IClusterClient client, INodeRuntime runtime, NodeAgentOptions options, NodeAgentServerOptions serverOptions, TimeProvider timeProvider, ILoggerFactory loggers, EventRecorder? events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggers);
        try
        {
            if (runtime is IRuntimeConnection connection)
            {
                try
                {
                    await connection.ConnectAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    // Not fatal: the node registers NotReady ("container runtime is down") and turns Ready when the runtime answers.
                    loggers.CreateLogger(typeof(NodeAgentRunner)).LogError("{Message} The node is NotReady until it answers.", ex.Message);
                }
            }

            await using var server = await NodeAgentServer.StartAsync(runtime, serverOptions, timeProvider, loggers.CreateLogger<NodeAgentServer>(), cancellationToken).ConfigureAwait(false);
            options.InternalIP ??= server.EndPoint!.Address.ToString();
            options.ServerPort ??= server.EndPoint!.Port;
            var agent = new NodeAgent(client, runtime, options, timeProvider, loggers.CreateLogger<NodeAgent>(), events: events);
            await agent.RunUntilStoppedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
