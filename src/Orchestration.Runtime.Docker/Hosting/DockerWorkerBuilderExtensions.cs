using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Hosting;

namespace Orchestration.Runtime.Docker.Hosting;

/// <summary>Chooses Docker as a worker's runtime.</summary>
public static class DockerWorkerBuilderExtensions
{
    /// <summary>
    /// Runs the worker's node over the Docker Engine API: a dockerd of the node's own, in a network
    /// namespace of its own under <see cref="Linux.Daemons.RuntimeDaemonOptions.DataDirectory"/>
    /// (started before the host's other services, adopted with its containers after a kill, started
    /// again when it dies, stopped last), or the running one at
    /// <see cref="Linux.Daemons.RuntimeDaemonOptions.SocketPath"/>. Needs root. Pair it with the node
    /// agent's server (<c>AddNodeAgentServer</c>) for logs, exec and port-forward.
    /// </summary>
    public static IWorkerBuilder UseDockerRuntime(this IWorkerBuilder builder, Action<DockerNodeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<DockerNodeOptions>()
            .Configure(configure)
            .Validate(o => o.SocketPath is not null || o.DataDirectory.Length > 0, "DockerNodeOptions.DataDirectory is required for a dockerd of the node's own (or give SocketPath of a running one)")
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<DockerDaemonService>();
        builder.Services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<DockerDaemonService>());
        return builder.UseRuntime(sp => new DockerRuntime(
            Options.Create(sp.GetRequiredService<DockerDaemonService>().RuntimeOptions),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<DockerRuntime>>()));
    }
}
