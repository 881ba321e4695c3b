using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Runtime;

namespace Orchestration.Cli;

/// <summary><c>orch up --runtime simulated --nodes N</c>: N node agents in this process, each over a simulated runtime.</summary>
internal sealed class SimulatedNodes(IClusterClient client, SimulatedNodesOptions options, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var agents = Enumerable.Range(0, options.Count).Select(i =>
        {
            var agent = new NodeAgent.NodeAgent(client, new SimulatedRuntime(timeProvider), new NodeAgentOptions { NodeName = $"sim-node-{i}" }, timeProvider, loggers.CreateLogger<NodeAgent.NodeAgent>());
            return Task.Run(() => RunAsync(agent, stoppingToken), stoppingToken);
        });
        return Task.WhenAll(agents);
    }

    private async Task RunAsync(NodeAgent.NodeAgent agent, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await agent.RunAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or InvalidOperationException)
            {
                // The API may not be ready at first start: the agent registers again shortly.
                loggers.CreateLogger<SimulatedNodes>().LogWarning(ex, "Node agent {Node} stopped; starting it again", agent.NodeName);
                await Task.Delay(TimeSpan.FromSeconds(1), timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>How many simulated nodes to run.</summary>
/// <param name="Count">The number of nodes.</param>
internal sealed record SimulatedNodesOptions(int Count);
