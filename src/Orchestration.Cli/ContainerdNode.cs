using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Runtime;
using Orchestration.Runtime.Linux.Daemons;
using Orchestration.Runtime.Containerd;

namespace Orchestration.Cli;

/// <summary><c>orch up</c> and <c>orch agent</c> with <c>--runtime containerd</c> (the default): a <see cref="RealNode"/> over containerd.</summary>
internal sealed class ContainerdNode(IClusterClient client, RealNodeOptions options, EventRecorder events, TimeProvider timeProvider, ILoggerFactory loggers)
    : RealNode(client, options, events, timeProvider, loggers)
{
    private ContainerdRuntimeOptions? _runtimeOptions;

    protected override string Daemon => "containerd";

    protected override string Kind => "containerd";

    protected override async Task<IDaemonHost> StartDaemonAsync(string dataDirectory, string? imageArchive, CancellationToken cancellationToken)
    {
        var hostOptions = new ContainerdHostOptions { DataDirectory = dataDirectory };
        if (imageArchive is not null)
        {
            hostOptions.ImageArchives.Add(imageArchive);
        }

        var host = await ContainerdHost.StartAsync(Options.Create(hostOptions), Time, Loggers.CreateLogger<ContainerdHost>(), cancellationToken).ConfigureAwait(false);
        _runtimeOptions = host.RuntimeOptions;
        return host;
    }

    protected override void UseSocket(string socket, string dataDirectory) =>
        _runtimeOptions = new ContainerdRuntimeOptions { SocketPath = socket, PodLogDirectory = Path.Combine(dataDirectory, "pods") };

    protected override INodeRuntime CreateRuntime() =>
        new ContainerdRuntime(Options.Create(_runtimeOptions!), Time, Loggers.CreateLogger<ContainerdRuntime>());
}
