using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent.Server.Hosting;

/// <summary>Composes a worker: a node agent and its server over the <see cref="INodeRuntime"/> registered with it.</summary>
public static class NodeAgentServiceCollectionExtensions
{
    /// <summary>
    /// Runs a node agent in this host, with its server (logs, exec, port-forward), against the
    /// registered <see cref="IClusterClient"/> and <see cref="INodeRuntime"/> (for example through
    /// <c>UseContainerdRuntime()</c> or <c>UseDockerRuntime()</c>).
    /// </summary>
    public static IServiceCollection AddNodeAgent(this IServiceCollection services, Action<NodeAgentOptions>? configure = null, Action<NodeAgentServerOptions>? server = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<NodeAgentOptions>().Configure(o => configure?.Invoke(o));
        services.AddOptions<NodeAgentServerOptions>().Configure(o => server?.Invoke(o));
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService<NodeAgentService>();
        return services;
    }
}

/// <summary>The hosted node agent: connects the runtime, starts the agent's server, runs the agent until the host stops.</summary>
internal sealed class NodeAgentService(
    IClusterClient client,
    INodeRuntime runtime,
    IOptions<NodeAgentOptions> options,
    IOptions<NodeAgentServerOptions> serverOptions,
    TimeProvider timeProvider,
    ILoggerFactory loggers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var logger = loggers.CreateLogger<NodeAgentService>();
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
                    // Not fatal: the node registers NotReady and turns Ready when the runtime answers.
                    logger.LogError("{Message} The node is NotReady until it answers.", ex.Message);
                }
            }

            await using var server = await NodeAgentServer.StartAsync(runtime, serverOptions.Value, timeProvider, loggers.CreateLogger<NodeAgentServer>(), stoppingToken).ConfigureAwait(false);
            var agentOptions = options.Value;
            agentOptions.InternalIP ??= server.EndPoint!.Address.ToString();
            agentOptions.ServerPort ??= server.EndPoint!.Port;
            var agent = new NodeAgent(client, runtime, agentOptions, timeProvider, loggers.CreateLogger<NodeAgent>());
            await agent.RunUntilStoppedAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
