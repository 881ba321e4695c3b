using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Runtime;
using Orchestration.Runtime.Linux.Daemons;
using Orchestration.Runtime.Docker;

namespace Orchestration.Cli;

/// <summary><c>orch up</c> and <c>orch agent</c> with <c>--runtime docker</c>: a <see cref="RealNode"/> over the Docker Engine API.</summary>
internal sealed class DockerNode(IClusterClient client, RealNodeOptions options, EventRecorder events, TimeProvider timeProvider, ILoggerFactory loggers)
    : RealNode(client, options, events, timeProvider, loggers)
{
    private DockerRuntimeOptions? _runtimeOptions;

    protected override string Daemon => "dockerd";

    protected override string Kind => "docker";

    protected override async Task<IDaemonHost> StartDaemonAsync(string dataDirectory, string? imageArchive, CancellationToken cancellationToken)
    {
        var hostOptions = new DockerHostOptions { DataDirectory = dataDirectory };
        if (imageArchive is not null)
        {
            hostOptions.ImageArchives.Add(imageArchive);
        }

        var host = await DockerHost.StartAsync(Options.Create(hostOptions), Time, Loggers.CreateLogger<DockerHost>(), cancellationToken).ConfigureAwait(false);
        _runtimeOptions = host.RuntimeOptions;
        return host;
    }

    protected override void UseSocket(string socket, string dataDirectory) =>
        _runtimeOptions = new DockerRuntimeOptions { SocketPath = socket };

    protected override INodeRuntime CreateRuntime() =>
        new DockerRuntime(Options.Create(_runtimeOptions!), Time, Loggers.CreateLogger<DockerRuntime>());
}
