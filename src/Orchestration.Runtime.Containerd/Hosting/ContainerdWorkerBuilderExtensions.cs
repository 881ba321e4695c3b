using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Hosting;

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
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<ContainerdNodeOptions>()
            .Configure(configure)
            .Validate(o => o.SocketPath is not null || o.DataDirectory.Length > 0, "ContainerdNodeOptions.DataDirectory is required for a containerd of the node's own (or give SocketPath of a running one)")
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<ContainerdDaemonService>();
        builder.Services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<ContainerdDaemonService>());
        return builder.UseRuntime(sp => new ContainerdRuntime(
            Options.Create(sp.GetRequiredService<ContainerdDaemonService>().RuntimeOptions),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<ContainerdRuntime>>()));
    }
}
