using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Hosting;
using Orchestration.Runtime.Linux.Hosting;
using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.Runtime.Containerd.Hosting;

/// <summary>Chooses containerd as a worker's runtime.</summary>
public static class ContainerdWorkerBuilderExtensions
{
    /// <summary>
    /// Runs the worker's node on containerd over CRI: a containerd of the node's own, in a network
    /// namespace of its own under <see cref="Linux.Daemons.RuntimeDaemonOptions.DataDirectory"/>
    /// (started before the host's other services, adopted with its containers after a kill, started
    /// again when it dies, stopped last), or the running one at
    /// <see cref="Linux.Daemons.RuntimeDaemonOptions.SocketPath"/>. Needs root. Pair it with the node
    /// agent's server (<c>AddNodeAgentServer</c>) for logs and exec.
    /// </summary>
    public static IWorkerBuilder UseContainerdRuntime(this IWorkerBuilder builder, Action<ContainerdNodeOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddRuntimeDaemon<ContainerdDaemonService, ContainerdNodeOptions>(configure, "containerd");
        builder.UseNftablesProxyByDefault().UseClusterDnsByDefault();
        return builder.UseRuntime(sp => new ContainerdRuntime(
            Options.Create(sp.GetRequiredService<ContainerdDaemonService>().RuntimeOptions),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ContainerdRuntime>>()));
    }
}
