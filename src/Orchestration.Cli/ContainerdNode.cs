using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.NodeAgent;
using Orchestration.NodeAgent.Server;
using Orchestration.Runtime.Containerd;

namespace Orchestration.Cli;

/// <summary>
/// <c>orch up --runtime containerd</c> (the default): one node of this machine whose agent runs real
/// containers, over a containerd of its own (in its own network namespace, under the data directory)
/// or one given by socket. A containerd left running by an <c>orch</c> that was killed is adopted with
/// its containers; stopping <c>orch</c> (Ctrl-C, SIGTERM) stops what it started or adopted.
/// </summary>
internal sealed class ContainerdNode(IClusterClient client, ContainerdNodeOptions options, EventRecorder events, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<ContainerdNode>();
    private ContainerdHost? _host;
    private ContainerdRuntimeOptions? _runtimeOptions;

    /// <summary>
    /// Starts (or adopts) containerd before the cluster serves, so that a node that cannot run fails
    /// <c>orch up</c> with the reason instead of leaving a cluster without its node.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Socket is { } socket)
        {
            _runtimeOptions = new ContainerdRuntimeOptions { SocketPath = socket, PodLogDirectory = Path.Combine(options.DataDirectory, "pods") };
        }
        else
        {
            var hostOptions = new ContainerdHostOptions { DataDirectory = options.DataDirectory };
            if (options.ImageArchive is { } archive)
            {
                hostOptions.ImageArchives.Add(archive);
            }
            else
            {
                _logger.LogWarning("No image tarball given and none built in this checkout (artifacts/images/busybox-oci.tar): containerd holds only the images it already has, and pod sandboxes need orchestration.local/sandbox:1. Run scripts/build-images.sh or pass --image-archive");
            }

            try
            {
                _host = await ContainerdHost.StartAsync(Options.Create(hostOptions), timeProvider, loggers.CreateLogger<ContainerdHost>(), cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                throw new NodeStartException($"the containerd node could not start: {ex.Message}", ex);
            }

            _runtimeOptions = _host.RuntimeOptions;
            _logger.LogInformation(
                _host.Adopted ? "containerd (pid {Pid}) of the previous run is adopted with its containers, in network namespace {Namespace} with its socket at {Socket}" : "containerd (pid {Pid}) runs in network namespace {Namespace} with its socket at {Socket}",
                _host.ProcessId,
                _host.NetworkNamespace,
                _host.SocketPath);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the node agent, then containerd with its containers.</summary>
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

    /// <summary>
    /// Pods synced at once. kubelet gives every pod its own worker; a real node waits mostly on
    /// containerd and the API, so more than the library's default of 4 (sized for thousands of
    /// simulated agents in one process) lets a burst of pods start side by side.
    /// </summary>
    private const int RealNodeWorkers = 16;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await using var runtime = new ContainerdRuntime(Options.Create(_runtimeOptions!), timeProvider, loggers.CreateLogger<ContainerdRuntime>());
            try
            {
                await runtime.ConnectAsync(TimeSpan.FromSeconds(10), stoppingToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                // Not fatal: the node registers NotReady ("container runtime is down") and turns Ready when containerd answers.
                _logger.LogError("{Message} The node is NotReady until it answers.", ex.Message);
            }

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

/// <summary>The containerd node of <c>orch up</c>.</summary>
/// <param name="NodeName">The node's name.</param>
/// <param name="DataDirectory">Where its containerd keeps root, state, socket and pod logs, and its agent the pods' volumes (<c>kubelet/</c>).</param>
/// <param name="Socket">An existing containerd's socket to use instead of starting one.</param>
/// <param name="ImageArchive">The image tarball to import into a started containerd.</param>
internal sealed record ContainerdNodeOptions(string NodeName, string DataDirectory, string? Socket, string? ImageArchive);
