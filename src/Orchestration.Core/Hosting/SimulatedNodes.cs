using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.NodeAgent;
using Orchestration.Runtime;

namespace Orchestration.Hosting;

/// <summary>
/// N node agents in this host, each over a simulated runtime of its own (pods without processes),
/// configured as the worker's node (<see cref="NodeAgentOptions"/>) but for their names.
/// </summary>
public sealed class SimulatedNodes(
    IClusterClient client,
    IOptions<SimulatedNodesOptions> options,
    IOptions<NodeAgentOptions> node,
    EventRecorder events,
    IEnumerable<IServiceAccountTokenClient> tokens,
    TimeProvider timeProvider,
    ILoggerFactory loggers) : BackgroundService
{
    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var prefix = settings.NamePrefix ?? node.Value.NodeName;
        var agents = Enumerable.Range(0, settings.Count).Select(i =>
        {
            var template = node.Value;
            var agentOptions = new NodeAgentOptions
            {
                NodeName = settings.Count == 1 && !settings.NumberSingle ? prefix : $"{prefix}-{i}",
                Cpu = template.Cpu,
                Memory = template.Memory,
                MaxPods = template.MaxPods,
                LeaseDuration = template.LeaseDuration,
                RenewInterval = template.RenewInterval,
                Workers = template.Workers,
                RecordEvents = template.RecordEvents,
                OsImage = template.OsImage ?? "Orchestration simulated node",
            };
            foreach (var (key, value) in template.Labels)
            {
                agentOptions.Labels[key] = value;
            }

            var agent = new NodeAgent.NodeAgent(client, new SimulatedRuntime(timeProvider), agentOptions, timeProvider, loggers.CreateLogger<NodeAgent.NodeAgent>(), events: events)
            {
                // Their pods' token volumes are filled as a real node's are.
                ServiceAccountTokens = tokens.LastOrDefault(),
            };
            return Task.Run(() => agent.RunUntilStoppedAsync(stoppingToken), stoppingToken);
        });
        return Task.WhenAll(agents);
    }
}
