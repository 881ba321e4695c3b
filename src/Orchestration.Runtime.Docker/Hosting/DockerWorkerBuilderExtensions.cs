using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Hosting;
using Orchestration.Runtime.Linux.Hosting;
using Orchestration.Runtime.Linux.Daemons;

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
        builder.Services.AddRuntimeDaemon<DockerDaemonService, DockerNodeOptions>(configure, "dockerd");
        builder.UseNftablesProxyByDefault().UseClusterDnsByDefault();
        return builder.UseRuntime(sp => new DockerRuntime(
            Options.Create(sp.GetRequiredService<DockerDaemonService>().RuntimeOptions),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<DockerRuntime>>()));
    }
}
