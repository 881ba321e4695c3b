using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.NodeAgent;
using Orchestration.NodeAgent.Server;
using Orchestration.NodeAgent.Server.Hosting;
using Orchestration.Runtime;
using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.Cli;

/// <summary>
/// A node of <c>orch up</c> or <c>orch agent</c> whose agent runs real containers, over a runtime daemon of its own (in
/// its own network namespace, under the data directory) or one given by socket. A daemon left
/// running by an <c>orch</c> that was killed is adopted with its containers; a daemon that dies
/// while <c>orch</c> runs is started again; stopping <c>orch</c> (Ctrl-C, SIGTERM) stops what it
/// started or adopted. Each runtime says how its daemon starts and
/// how its runtime is made.
/// </summary>
internal abstract class RealNode(IClusterClient client, RealNodeOptions options, EventRecorder events, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    /// <summary>
    /// Pods synced at once. kubelet gives every pod its own worker; a real node waits mostly on its
    /// runtime and the API, so more than the library's default of 4 (sized for thousands of
    /// simulated agents in one process) lets a burst of pods start side by side.
    /// </summary>
    private const int RealNodeWorkers = 16;

    private IDaemonHost? _daemon;

    /// <summary>The log.</summary>
    protected ILogger Logger { get; } = loggers.CreateLogger<RealNode>();

    /// <summary>The clock.</summary>
    protected TimeProvider Time => timeProvider;

    /// <summary>Loggers for the runtime's parts.</summary>
    protected ILoggerFactory Loggers => loggers;

    /// <summary>The daemon's name in messages (<c>containerd</c>, <c>dockerd</c>).</summary>
    protected abstract string Daemon { get; }

    /// <summary>The node's kind in messages (<c>containerd</c>, <c>docker</c>).</summary>
    protected abstract string Kind { get; }

    /// <summary>Starts or adopts the node's own daemon under <paramref name="dataDirectory"/>.</summary>
    protected abstract Task<IDaemonHost> StartDaemonAsync(string dataDirectory, string? imageArchive, CancellationToken cancellationToken);

    /// <summary>Uses the daemon at <paramref name="socket"/> instead of starting one.</summary>
    protected abstract void UseSocket(string socket, string dataDirectory);

    /// <summary>The runtime over the daemon chosen by <see cref="StartDaemonAsync"/> or <see cref="UseSocket"/>.</summary>
    protected abstract INodeRuntime CreateRuntime();

    /// <summary>
    /// Starts (or adopts) the daemon before the cluster serves, so that a node that cannot run fails
    /// <c>orch up</c> with the reason instead of leaving a cluster without its node.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Socket is { } socket)
        {
            UseSocket(socket, options.DataDirectory);
        }
        else
        {
            if (options.ImageArchive is null)
            {
                Logger.LogWarning("No image tarball given and none built in this checkout (artifacts/images/busybox-oci.tar): {Daemon} holds only the images it already has, and pod sandboxes need orchestration.local/sandbox:1. Run scripts/build-images.sh or pass --image-archive", Daemon);
            }

            IDaemonHost started;
            try
            {
                started = await StartDaemonAsync(options.DataDirectory, options.ImageArchive, cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidOperationException ex)
            {
                throw new NodeStartException($"the {Kind} node could not start: {ex.Message}", ex);
            }

            _daemon = started;
            Logger.LogInformation(
                started.Adopted ? "{Daemon} (pid {Pid}) of the previous run is adopted with its containers, in network namespace {Namespace} with its socket at {Socket}" : "{Daemon} (pid {Pid}) runs in network namespace {Namespace} with its socket at {Socket}",
                Daemon,
                started.ProcessId,
                started.NetworkNamespace,
                started.SocketPath);
        }

        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops the node agent, then the daemon with its containers.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await base.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (_daemon is not null)
            {
                await _daemon.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var runtime = CreateRuntime();
        var supervising = _daemon is null ? Task.CompletedTask : SuperviseAsync(_daemon, stoppingToken);
        try
        {
            var agentOptions = new NodeAgentOptions { NodeName = options.NodeName, Workers = RealNodeWorkers, RootDirectory = Path.Combine(options.DataDirectory, "kubelet") };
            if (options.LeaseDuration is { } lease)
            {
                agentOptions.LeaseDuration = lease;
                agentOptions.RenewInterval = lease / 4;
            }

            await NodeAgentRunner.RunAsync(client, runtime, agentOptions, new NodeAgentServerOptions(), timeProvider, loggers, events, stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            await supervising.ConfigureAwait(false);
            if (runtime is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Starts the node's own daemon again when it dies, as systemd restarts containerd or dockerd
    /// beside kubelet: checked every second; a start that fails is tried again after a back-off
    /// that doubles up to 30 s. The node is NotReady meanwhile (its agent reports the runtime down).
    /// </summary>
    private async Task SuperviseAsync(IDaemonHost daemon, CancellationToken stoppingToken)
    {
        var backOff = TimeSpan.FromSeconds(1);
        try
        {
            while (true)
            {
                await Task.Delay(backOff, Time, stoppingToken).ConfigureAwait(false);
                try
                {
                    if (await daemon.RestartIfExitedAsync(stoppingToken).ConfigureAwait(false))
                    {
                        Logger.LogWarning("{Daemon} had exited and was started again (pid {Pid}); the node agent starts the pods again", Daemon, daemon.ProcessId);
                    }

                    backOff = TimeSpan.FromSeconds(1);
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
                {
                    backOff = TimeSpan.FromTicks(Math.Min(backOff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                    Logger.LogError("{Daemon} exited and could not be started again: {Message}; trying again in {BackOff}", Daemon, ex.Message, backOff);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}

/// <summary>A real node of <c>orch up</c> or <c>orch agent</c>.</summary>
/// <param name="NodeName">The node's name.</param>
/// <param name="DataDirectory">Where its daemon keeps its root, state and socket, and its agent the pods' volumes (<c>kubelet/</c>).</param>
/// <param name="Socket">An existing daemon's socket to use instead of starting one.</param>
/// <param name="ImageArchive">The image tarball to import into a started daemon.</param>
/// <param name="LeaseDuration">How long the node's Lease holds (renewed every quarter of it); null keeps the agent's default.</param>
internal sealed record RealNodeOptions(string NodeName, string DataDirectory, string? Socket, string? ImageArchive, TimeSpan? LeaseDuration = null);
