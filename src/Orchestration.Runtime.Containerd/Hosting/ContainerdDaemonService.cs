using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.Runtime.Containerd.Hosting;

/// <summary>The containerd of a worker's node, as a part of its host (see <see cref="RuntimeDaemonService{TRuntimeOptions}"/>).</summary>
public sealed class ContainerdDaemonService(IOptions<ContainerdNodeOptions> options, TimeProvider timeProvider, ILoggerFactory loggers)
    : RuntimeDaemonService<ContainerdRuntimeOptions>(options.Value, timeProvider, loggers.CreateLogger<ContainerdDaemonService>())
{
    /// <inheritdoc />
    protected override string Daemon => "containerd";

    /// <inheritdoc />
    protected override string Kind => "containerd";

    /// <inheritdoc />
    protected override async Task<(IDaemonHost Daemon, ContainerdRuntimeOptions Runtime)> StartDaemonAsync(RuntimeDaemonOptions settings, IReadOnlyList<string> imageArchives, CancellationToken cancellationToken)
    {
        var hostOptions = new ContainerdHostOptions { DataDirectory = settings.DataDirectory };
        foreach (var archive in imageArchives)
        {
            hostOptions.ImageArchives.Add(archive);
        }

        options.Value.ConfigureHost?.Invoke(hostOptions);
        var host = await ContainerdHost.StartAsync(Options.Create(hostOptions), Time, loggers.CreateLogger<ContainerdHost>(), cancellationToken).ConfigureAwait(false);
        return (host, host.RuntimeOptions);
    }

    /// <inheritdoc />
    protected override ContainerdRuntimeOptions ForSocket(string socketPath, RuntimeDaemonOptions settings) =>
        new() { SocketPath = socketPath, NetworkNamespacePath = settings.NetworkNamespacePath, PodLogDirectory = Path.Combine(settings.DataDirectory, "pods") };
}
