using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>
/// What every host of a node's runtime daemon does the same way, whichever daemon it runs: it holds
/// the data directory (a lock), knows the daemon's PID and network namespace, starts it or adopts
/// it (the host says how), lets go of it (<see cref="DetachAsync"/>), starts it again when it died
/// (<see cref="RestartIfExitedAsync"/>) and, when disposed, stops it and what it ran (the host says
/// how), then lets go of the directory and, if asked, deletes it.
/// </summary>
public abstract partial class DaemonHost : IDaemonHost
{
    private readonly bool _deleteDataOnDispose;
    private FileStream? _lock;
    private bool _disposed;

    /// <summary>A host of <paramref name="daemon"/> on <paramref name="dataDirectory"/>.</summary>
    /// <param name="daemon">The daemon's name in messages and in the lock file's name (<c>containerd</c>, <c>dockerd</c>).</param>
    /// <param name="dataDirectory">Where the daemon's state lives.</param>
    /// <param name="networkNamespace">The namespace to create and run it in; null picks a fresh name.</param>
    /// <param name="deleteDataOnDispose">Whether disposing deletes the data directory.</param>
    /// <param name="time">The clock.</param>
    /// <param name="logger">The log.</param>
    protected DaemonHost(string daemon, string dataDirectory, string? networkNamespace, bool deleteDataOnDispose, TimeProvider time, ILogger logger)
    {
        Daemon = daemon;
        DataDirectory = Path.GetFullPath(dataDirectory);
        NetworkNamespace = networkNamespace ?? NetworkNamespaces.FreshName();
        _deleteDataOnDispose = deleteDataOnDispose;
        Time = time;
        Logger = logger;
    }

    /// <inheritdoc />
    public string DataDirectory { get; }

    /// <inheritdoc />
    public string NetworkNamespace { get; protected set; }

    /// <summary>The namespace as a path, for <c>nsenter --net=</c> and the runtime's probes.</summary>
    public string NetworkNamespacePath => NetworkNamespaces.PathOf(NetworkNamespace);

    /// <inheritdoc />
    public abstract string SocketPath { get; }

    /// <inheritdoc />
    public int? ProcessId => Pid is { } pid && ProcessTable.IsRunning(pid) ? pid : null;

    /// <inheritdoc />
    public bool Adopted { get; protected set; }

    /// <summary>The daemon's name in messages.</summary>
    protected string Daemon { get; }

    /// <summary>The clock.</summary>
    protected TimeProvider Time { get; }

    /// <summary>The log.</summary>
    protected ILogger Logger { get; }

    /// <summary>The daemon's PID once this host started or adopted it.</summary>
    protected int? Pid { get; set; }

    /// <summary>The daemon's process when this host started it (a child of this process).</summary>
    protected Process? Started { get; set; }

    /// <summary>Whether this host created the namespace (or adopted a daemon in it), and so deletes it.</summary>
    protected bool OwnsNamespace { get; set; }

    /// <inheritdoc />
    public async ValueTask DetachAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Started?.Dispose();
        if (_lock is not null)
        {
            await _lock.DisposeAsync().ConfigureAwait(false);
        }

        Log.LogLeftRunning(Logger, Daemon, Pid, NetworkNamespace, DataDirectory);
    }

    /// <inheritdoc />
    public async Task<bool> RestartIfExitedAsync(CancellationToken cancellationToken)
    {
        if (_disposed || _lock is null || Pid is not { } pid || ProcessTable.IsRunning(pid))
        {
            return false;
        }

        Log.LogExited(Logger, Daemon, pid, NetworkNamespace);
        Started?.Dispose();
        Started = null;
        Pid = null;
        await StartAgainAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await DisposeCoreAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Throws what keeps any daemon host from starting: a missing image tarball, or not being root
    /// (the daemon creates a network namespace, mounts container filesystems and sets up cgroups).
    /// </summary>
    /// <exception cref="InvalidOperationException">The reason, and what to do about it.</exception>
    protected static void CheckPrerequisites(string daemon, IEnumerable<string> imageArchives)
    {
        ArgumentNullException.ThrowIfNull(imageArchives);
        foreach (var archive in imageArchives)
        {
            if (!File.Exists(archive))
            {
                throw new InvalidOperationException($"The image tarball {archive} does not exist. Build it with scripts/build-images.sh.");
            }
        }

        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException($"Running {daemon} needs root (it creates a network namespace, mounts container filesystems and sets up cgroups), and this process does not run as root. Run it as root.");
        }
    }

    /// <summary>Takes the data directory and starts or adopts the daemon; on failure, whatever was started is stopped again.</summary>
    protected static async Task<THost> StartAsync<THost>(THost host, CancellationToken cancellationToken)
        where THost : DaemonHost
    {
        ArgumentNullException.ThrowIfNull(host);
        try
        {
            Directory.CreateDirectory(host.DataDirectory);
            host._lock = DaemonDirectory.Lock(host.DataDirectory, $"{host.Daemon}.lock", host.Daemon);
            await host.StartOrAdoptAsync(cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Adopts the daemon a previous host left running, or removes what a dead one left and starts one; then loads the images.</summary>
    protected abstract Task StartOrAdoptAsync(CancellationToken cancellationToken);

    /// <summary>The daemon has died while this host holds it: remove what it left and start a new one in <see cref="NetworkNamespace"/> (which exists), with the images.</summary>
    protected abstract Task StartAgainAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stops the daemon and everything it ran, and deletes what this host owns (the namespace,
    /// records). Returns false to leave everything as it is for the next host (a daemon that this
    /// host found running but did not get to adopt); the data directory is then kept.
    /// </summary>
    protected abstract Task<bool> StopAllAsync(CancellationToken cancellationToken);

    private async ValueTask DisposeCoreAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_lock is null)
        {
            // It never held the data directory: what is there belongs to another host.
            return;
        }

        // Cleanup must finish even when the caller is being cancelled: nothing may be left behind.
        var stopped = await StopAllAsync(CancellationToken.None).ConfigureAwait(false);
        Started?.Dispose();
        await _lock.DisposeAsync().ConfigureAwait(false);
        if (!stopped || !_deleteDataOnDispose)
        {
            return;
        }

        await DaemonDirectory.UnmountUnderAsync(DataDirectory, CancellationToken.None).ConfigureAwait(false);
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.LogDataDirectoryNotDeleted(Logger, ex, Daemon, DataDirectory);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "Left {Daemon} (pid {Pid}) running in network namespace {Namespace} for the next host on {Directory}")]
        public static partial void LogLeftRunning(ILogger logger, string daemon, int? pid, string @namespace, string directory);

        [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "{Daemon} (pid {Pid}) has exited; removing what it left and starting it again in network namespace {Namespace}")]
        public static partial void LogExited(ILogger logger, string daemon, int pid, string @namespace);

        [LoggerMessage(EventId = 4012, Level = LogLevel.Warning, Message = "Could not delete {Daemon}'s data directory {Directory}")]
        public static partial void LogDataDirectoryNotDeleted(ILogger logger, Exception ex, string daemon, string directory);
    }
}
