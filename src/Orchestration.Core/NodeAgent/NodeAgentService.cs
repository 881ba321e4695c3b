using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// A worker's node: connects its <see cref="INodeRuntime"/>, starts the agent's server when one is
/// registered (<see cref="INodeAgentServer"/>) and reports where it listens, then runs the node
/// agent until the host stops.
/// </summary>
public sealed partial class NodeAgentService(
    IServiceProvider services,
    IClusterClient client,
    IOptions<NodeAgentOptions> options,
    EventRecorder events,
    TimeProvider timeProvider,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<NodeAgentService>();

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here, not in the constructor: a runtime over a daemon of the worker's own is made
        // once that daemon has started (before any hosted service's StartAsync).
        var runtime = services.GetRequiredService<INodeRuntime>();
        var server = services.GetService<INodeAgentServer>();
        var settings = options.Value;
        try
        {
            if (runtime is IRuntimeConnection connection)
            {
                try
                {
                    await connection.ConnectAsync(TimeSpan.FromSeconds(10), stoppingToken).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    // Not fatal: the node registers NotReady ("container runtime is down") and turns Ready when the runtime answers.
                    LogRuntimeNotAnswering(ex.Message);
                }
            }

            if (server is not null)
            {
                var endPoint = await server.StartAsync(runtime, stoppingToken).ConfigureAwait(false);
                settings.InternalIP ??= endPoint.Address.ToString();
                settings.ServerPort ??= endPoint.Port;
            }

            var agent = new NodeAgent(client, runtime, settings, timeProvider, loggers.CreateLogger<NodeAgent>(), events: events) { ServiceAccountTokens = services.GetService<IServiceAccountTokenClient>() };
            await agent.RunUntilStoppedAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (server is not null)
            {
                await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "{Message} The node is NotReady until it answers.")]
    private partial void LogRuntimeNotAnswering(string message);
}
