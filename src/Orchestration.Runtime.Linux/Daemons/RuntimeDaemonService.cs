using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>
/// A worker's runtime daemon as part of its host: started (or adopted, with its containers, when a
/// host that was killed left it running) before any other service starts, so a node that cannot run
/// fails the host's start with the reason; started again when it dies, as systemd would beside
/// kubelet (checked every <see cref="RuntimeDaemonOptions.SupervisionInterval"/>, with a back-off
/// that doubles up to 30 s); stopped with its containers after every other service has stopped.
/// Each runtime says how its daemon starts and what its runtime is told.
/// </summary>
/// <typeparam name="TRuntimeOptions">What the runtime over the daemon is told (its socket, log directory, namespace).</typeparam>
public abstract partial class RuntimeDaemonService<TRuntimeOptions> : IHostedLifecycleService, INodeNetworkNamespace, IAsyncDisposable
    where TRuntimeOptions : class
{
    private readonly RuntimeDaemonOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private IDaemonHost? _daemon;
    private TRuntimeOptions? _runtimeOptions;
    private Task _supervising = Task.CompletedTask;
    private int _disposed;

    /// <summary>A daemon run as <paramref name="options"/> say.</summary>
    protected RuntimeDaemonService(RuntimeDaemonOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _time = timeProvider;
        _logger = logger;
    }

    /// <summary>The clock.</summary>
    protected TimeProvider Time => _time;

    /// <summary>The daemon's name in messages (<c>containerd</c>, <c>dockerd</c>).</summary>
    protected abstract string Daemon { get; }

    /// <summary>The node's kind in messages (<c>containerd</c>, <c>docker</c>).</summary>
    protected abstract string Kind { get; }

    /// <summary>What the runtime is told: known once the daemon has started (or the given socket is taken).</summary>
    /// <exception cref="InvalidOperationException">The host has not started yet.</exception>
    public TRuntimeOptions RuntimeOptions => _runtimeOptions ?? throw new InvalidOperationException($"The {Kind} node's runtime is not known before the host starts its daemon");

    /// <summary>The daemon of the worker's own, while it runs; null when a running daemon was given by socket.</summary>
    public IDaemonHost? Host => _daemon;

    /// <inheritdoc />
    public string? NetworkNamespacePath => _daemon is { } daemon ? NetworkNamespaces.PathOf(daemon.NetworkNamespace) : _options.NetworkNamespacePath;

    /// <summary>Starts or adopts the node's own daemon under <paramref name="options"/>' data directory, importing <paramref name="imageArchives"/>; returns it and what its runtime is told.</summary>
    protected abstract Task<(IDaemonHost Daemon, TRuntimeOptions Runtime)> StartDaemonAsync(RuntimeDaemonOptions options, IReadOnlyList<string> imageArchives, CancellationToken cancellationToken);

    /// <summary>What the runtime is told to use the running daemon at <paramref name="socketPath"/>.</summary>
    protected abstract TRuntimeOptions ForSocket(string socketPath, RuntimeDaemonOptions options);

    /// <inheritdoc />
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (_options.SocketPath is { } socket)
        {
            _runtimeOptions = ForSocket(socket, _options);
            return;
        }

        try
        {
            var archives = await ImageArchivesAsync(cancellationToken).ConfigureAwait(false);
            (_daemon, _runtimeOptions) = await StartDaemonAsync(_options, archives, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            throw new NodeStartException($"the {Kind} node could not start: {ex.Message}", ex);
        }

        if (_daemon.Adopted)
        {
            LogAdopted(Daemon, _daemon.ProcessId, _daemon.NetworkNamespace, _daemon.SocketPath);
        }
        else
        {
            LogStarted(Daemon, _daemon.ProcessId, _daemon.NetworkNamespace, _daemon.SocketPath);
        }
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        if (_daemon is not null)
        {
            _supervising = SuperviseAsync(_daemon, _stopping.Token);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        // No restarts while the node stops.
        if (Volatile.Read(ref _disposed) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _supervising.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public async Task StoppedAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    /// <summary>Stops the daemon with its containers (after the node agent has stopped).</summary>
    public async ValueTask DisposeAsync()
    {
        // Called by the host's stop and again by the container that owns this service.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _supervising.ConfigureAwait(false);
        var daemon = Interlocked.Exchange(ref _daemon, null);
        if (daemon is not null)
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>The tarballs given, else the node's own images, built from busybox-static on its first start (a registry is not reachable).</summary>
    private async Task<IReadOnlyList<string>> ImageArchivesAsync(CancellationToken cancellationToken)
    {
        if (_options.ImageArchives.Count > 0)
        {
            return [.. _options.ImageArchives];
        }

        if (_options.BusyboxPath is null || !File.Exists(_options.BusyboxPath))
        {
            LogNoImages(Daemon, _options.BusyboxPath ?? "(none)");
            return [];
        }

        var built = Path.Combine(_options.DataDirectory, "images", "busybox-oci.tar");
        if (!File.Exists(built))
        {
            await Images.LocalImageArchive.BuildAsync(_options.BusyboxPath, built, cancellationToken).ConfigureAwait(false);
            LogImagesBuilt(built, _options.BusyboxPath);
        }

        return [built];
    }

    private async Task SuperviseAsync(IDaemonHost daemon, CancellationToken stoppingToken)
    {
        var backOff = _options.SupervisionInterval;
        try
        {
            while (true)
            {
                await Task.Delay(backOff, _time, stoppingToken).ConfigureAwait(false);
                try
                {
                    if (await daemon.RestartIfExitedAsync(stoppingToken).ConfigureAwait(false))
                    {
                        LogRestarted(Daemon, daemon.ProcessId);
                    }

                    backOff = _options.SupervisionInterval;
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
                {
                    backOff = TimeSpan.FromTicks(Math.Min(backOff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                    LogRestartFailed(Daemon, ex.Message, backOff);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "No image tarball given and no busybox-static at {Busybox} to build one from: {Daemon} holds only the images it already has, and pod sandboxes need orchestration.local/sandbox:1 (install busybox-static or give an image tarball)")]
    private partial void LogNoImages(string daemon, string busybox);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Information, Message = "Built the node's busybox and sandbox images into {Archive} from {Busybox}")]
    private partial void LogImagesBuilt(string archive, string busybox);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "{Daemon} (pid {Pid}) runs in network namespace {Namespace} with its socket at {Socket}")]
    private partial void LogStarted(string daemon, int? pid, string @namespace, string socket);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information, Message = "{Daemon} (pid {Pid}) of the previous run is adopted with its containers, in network namespace {Namespace} with its socket at {Socket}")]
    private partial void LogAdopted(string daemon, int? pid, string @namespace, string socket);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "{Daemon} had exited and was started again (pid {Pid}); the node agent starts the pods again")]
    private partial void LogRestarted(string daemon, int? pid);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "{Daemon} exited and could not be started again: {Message}; trying again in {BackOff}")]
    private partial void LogRestartFailed(string daemon, string message, TimeSpan backOff);
}
