using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.NodeAgent;
using Orchestration.NodeAgent.Server;
using Orchestration.Runtime.Docker;

namespace Orchestration.Cli;

/// <summary>
/// <c>orch up --runtime docker</c>: one node of this machine whose agent runs real containers
/// through the Docker Engine API, over a dockerd of its own (in its own network namespace, under the
/// data directory) or one given by socket. A dockerd left running by an <c>orch</c> that was killed is
/// adopted with its containers; stopping <c>orch</c> stops the dockerd it started or adopted. Logs work; exec, attach and port-forward answer 501 until
/// the Docker runtime streams.
/// </summary>
internal sealed class DockerNode(IClusterClient client, DockerNodeOptions options, EventRecorder events, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    /// <summary>Pods synced at once, as on the containerd node: a real node waits mostly on its runtime and the API.</summary>
    private const int RealNodeWorkers = 16;

    private readonly ILogger _logger = loggers.CreateLogger<DockerNode>();
    private DockerHost? _host;
    private DockerRuntimeOptions? _runtimeOptions;

    /// <summary>
    /// Starts dockerd before the cluster serves, so that a node that cannot run fails <c>orch up</c>
    /// with the reason instead of leaving a cluster without its node.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Socket is { } socket)
        {
            _runtimeOptions = new DockerRuntimeOptions { SocketPath = socket };
        }
        else
        {
            var hostOptions = new DockerHostOptions { DataDirectory = options.DataDirectory };
            if (options.ImageArchive is { } archive)
            {
                hostOptions.ImageArchives.Add(archive);
            }
            else
            {
                _logger.LogWarning("No image tarball given and none built in this checkout (artifacts/images/busybox-oci.tar): dockerd holds only the images it already has, and pod sandboxes need orchestration.local/sandbox:1. Run scripts/build-images.sh or pass --image-archive");
            }

            try
            {
                _host = await DockerHost.StartAsync(Options.Create(hostOptions), timeProvider, loggers.CreateLogger<DockerHost>(), cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                throw new NodeStartException($"the docker node could not start: {ex.Message}", ex);
            }

            _runtimeOptions = _host.RuntimeOptions;
            _logger.LogInformation(
                _host.Adopted ? "dockerd (pid {Pid}) of the previous run is adopted with its containers, in network namespace {Namespace} with its socket at {Socket}" : "dockerd (pid {Pid}) runs in network namespace {Namespace} with its socket at {Socket}",
                _host.ProcessId,
                _host.NetworkNamespace,
                _host.SocketPath);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the node agent, then the dockerd it started with its containers.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await base.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_host is not null)
            {
                await _host.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await using var runtime = new DockerRuntime(Options.Create(_runtimeOptions!), timeProvider, loggers.CreateLogger<DockerRuntime>());
            try
            {
                await runtime.ConnectAsync(TimeSpan.FromSeconds(10), stoppingToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                // Not fatal: the node registers NotReady ("container runtime is down") and turns Ready when dockerd answers.
                _logger.LogError("{Message} The node is NotReady until it answers.", ex.Message);
            }

            // The agent's server serves logs from Docker's json-file logs; exec and port-forward answer 501 (no IStreamingRuntime).
            await using var server = await NodeAgentServer.StartAsync(runtime, new NodeAgentServerOptions(), timeProvider, loggers.CreateLogger<NodeAgentServer>(), stoppingToken).ConfigureAwait(false);
            var agentOptions = new NodeAgentOptions { NodeName = options.NodeName, Workers = RealNodeWorkers, RootDirectory = Path.Combine(options.DataDirectory, "kubelet"), InternalIP = server.EndPoint!.Address.ToString(), ServerPort = server.EndPoint.Port };
            var agent = new NodeAgent.NodeAgent(client, runtime, agentOptions, timeProvider, loggers.CreateLogger<NodeAgent.NodeAgent>(), runtime, events);
            await agent.RunUntilStoppedAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

/// <summary>The docker node of <c>orch up</c>.</summary>
/// <param name="NodeName">The node's name.</param>
/// <param name="DataDirectory">Where its dockerd keeps data root, exec root and socket, and its agent the pods' volumes (<c>kubelet/</c>).</param>
/// <param name="Socket">An existing dockerd's socket to use instead of starting one.</param>
/// <param name="ImageArchive">The image tarball to load into a started dockerd.</param>
internal sealed record DockerNodeOptions(string NodeName, string DataDirectory, string? Socket, string? ImageArchive);
