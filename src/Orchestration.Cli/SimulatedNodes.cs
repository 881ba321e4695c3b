using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Runtime;

namespace Orchestration.Cli;

/// <summary>N node agents in this process, each over a simulated runtime: <c>orch up --runtime simulated --nodes N</c> and <c>orch agent --runtime simulated</c>.</summary>
internal sealed class SimulatedNodes(IClusterClient client, SimulatedNodesOptions options, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var agents = Enumerable.Range(0, options.Count).Select(i =>
        {
            var settings = new NodeAgentOptions
            {
                NodeName = options.Count == 1 && !options.NumberSingle ? options.NamePrefix : $"{options.NamePrefix}-{i}",
                LeaseDuration = options.LeaseDuration,
                RenewInterval = options.LeaseDuration / 4,
                OsImage = "Orchestration simulated node",
            };
            var agent = new NodeAgent.NodeAgent(client, new SimulatedRuntime(timeProvider), settings, timeProvider, loggers.CreateLogger<NodeAgent.NodeAgent>());
            return Task.Run(() => agent.RunUntilStoppedAsync(stoppingToken), stoppingToken);
        });
        return Task.WhenAll(agents);
    }
}

/// <summary>Which simulated nodes to run.</summary>
/// <param name="Count">The number of nodes.</param>
/// <param name="NamePrefix">Their names' prefix (<c>sim-node</c> gives <c>sim-node-0</c>, ...).</param>
/// <param name="LeaseDuration">How long each node's Lease holds; it is renewed every quarter of that.</param>
/// <param name="NumberSingle">Whether a single node is numbered too (<c>sim-node-0</c>) or takes the prefix as its name.</param>
internal sealed record SimulatedNodesOptions(int Count, string NamePrefix, TimeSpan LeaseDuration, bool NumberSingle = true);
