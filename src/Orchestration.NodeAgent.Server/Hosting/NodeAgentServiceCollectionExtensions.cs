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

/// <summary>The hosted node agent of <see cref="NodeAgentServiceCollectionExtensions.AddNodeAgent"/>.</summary>
internal sealed class NodeAgentService(
    IClusterClient client,
    INodeRuntime runtime,
    IOptions<NodeAgentOptions> options,
    IOptions<NodeAgentServerOptions> serverOptions,
    TimeProvider timeProvider,
    ILoggerFactory loggers) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        NodeAgentRunner.RunAsync(client, runtime, options.Value, serverOptions.Value, timeProvider, loggers, events: null, stoppingToken);
}
