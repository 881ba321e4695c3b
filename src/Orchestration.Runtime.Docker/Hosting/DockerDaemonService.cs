using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.Runtime.Docker.Hosting;

/// <summary>The dockerd of a worker's node, as a part of its host (see <see cref="RuntimeDaemonService{TRuntimeOptions}"/>).</summary>
public sealed class DockerDaemonService(IOptions<DockerNodeOptions> options, TimeProvider timeProvider, ILoggerFactory loggers)
    : RuntimeDaemonService<DockerRuntimeOptions>(options.Value, timeProvider, loggers.CreateLogger<DockerDaemonService>())
{
    /// <inheritdoc />
    protected override string Daemon => "dockerd";

    /// <inheritdoc />
    protected override string Kind => "docker";

    /// <inheritdoc />
    protected override async Task<(IDaemonHost Daemon, DockerRuntimeOptions Runtime)> StartDaemonAsync(RuntimeDaemonOptions settings, IReadOnlyList<string> imageArchives, CancellationToken cancellationToken)
    {
        var hostOptions = new DockerHostOptions { DataDirectory = settings.DataDirectory };
        foreach (var archive in imageArchives)
        {
            hostOptions.ImageArchives.Add(archive);
        }

        options.Value.ConfigureHost?.Invoke(hostOptions);
        var host = await DockerHost.StartAsync(Options.Create(hostOptions), Time, loggers.CreateLogger<DockerHost>(), cancellationToken).ConfigureAwait(false);
        return (host, host.RuntimeOptions);
    }

    /// <inheritdoc />
    protected override DockerRuntimeOptions ForSocket(string socketPath, RuntimeDaemonOptions settings) => new() { SocketPath = socketPath, NetworkNamespacePath = settings.NetworkNamespacePath };
}
