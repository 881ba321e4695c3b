using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Daemons;

namespace Orchestration.Runtime.Docker;

/// <summary>
/// Runs a dockerd of the node's own: its data root, exec root, pidfile, socket and log under
/// <see cref="DockerHostOptions.DataDirectory"/>, inside a network namespace it creates (so its
/// bridges, NAT rules and host ports never touch the host's network), with the local images loaded.
/// dockerd starts and stops the containerd it manages itself (under the exec root), so there is one
/// process to start and stop.
/// <para>
/// dockerd outlives the process that started it, as it outlives kubelet: a host started again on the
/// data directory while the dockerd recorded there (<c>docker.pid</c>, <c>netns</c>) still runs, with
/// the command line this host would give it, in its namespace, and answering, adopts it
/// (<see cref="Adopted"/>) with every container in it. When the recorded dockerd is gone or does not
/// qualify, what it left (its containerd, shims and containers, mounts, namespace) is removed first.
/// </para>
/// <para>
/// Disposing removes the pods, stops dockerd (SIGTERM, then SIGKILL), ends the containerd, shims
/// and containers of its exec root that outlived it, unmounts what is left under the data directory
/// (dockerd leaves <c>exec/netns/default</c> mounted) and deletes the namespace;
/// <see cref="DetachAsync"/> leaves them running for the next host instead. It only ever signals
/// processes of its own data directory or namespace. One host at a time holds a data directory.
/// Needs root.
/// </para>
/// </summary>
public sealed class DockerHost : IDaemonHost
{
    private readonly DockerHostOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private FileStream? _lock;
    private Process? _process;
    private int? _pid;
    private bool _ownsNamespace;
    private bool _disposed;

    private DockerHost(DockerHostOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        NetworkNamespace = options.NetworkNamespace ?? NetworkNamespaces.FreshName();
    }

    /// <summary>The directory holding dockerd's data root, exec root, socket and log.</summary>
    public string DataDirectory { get; }

    /// <summary>The network namespace's name (<c>ip netns</c>).</summary>
    public string NetworkNamespace { get; private set; }

    /// <summary>The namespace as a path, for <c>nsenter --net=</c> and <see cref="DockerRuntimeOptions.NetworkNamespacePath"/>.</summary>
    public string NetworkNamespacePath => NetworkNamespaces.PathOf(NetworkNamespace);

    /// <summary>dockerd's API socket.</summary>
    public string SocketPath => Path.Combine(DataDirectory, "docker.sock");

    /// <summary>dockerd's data root (images, containers, their json-file logs).</summary>
    public string DataRoot => Path.Combine(DataDirectory, "root");

    /// <summary>dockerd's exec root (its managed containerd's socket and state, network namespaces).</summary>
    public string ExecRoot => Path.Combine(DataDirectory, "exec");

    /// <summary>The file dockerd writes its PID to.</summary>
    public string PidFilePath => Path.Combine(DataDirectory, "docker.pid");

    /// <summary>dockerd's own output (it writes there directly, so it never depends on this process being alive).</summary>
    public string LogPath => Path.Combine(DataDirectory, "dockerd.log");

    /// <summary>The file recording the name of dockerd's network namespace, so a later host can clean up after a killed one.</summary>
    public string NetworkNamespaceFilePath => Path.Combine(DataDirectory, "netns");

    /// <summary>dockerd's PID, while it runs.</summary>
    public int? ProcessId => _pid is { } pid && ProcessTable.IsRunning(pid) ? pid : null;

    /// <summary>
    /// Whether this host found the dockerd of a previous host on its data directory still running
    /// and took it over, with its containers, rather than starting one.
    /// </summary>
    public bool Adopted { get; private set; }

    /// <summary>Options for a <see cref="DockerRuntime"/> that talks to this dockerd.</summary>
    public DockerRuntimeOptions RuntimeOptions => new()
    {
        SocketPath = SocketPath,
        NetworkNamespacePath = NetworkNamespacePath,
    };

    /// <summary>
    /// Stops what a previous host of the data directory left running, creates the namespace, starts
    /// dockerd in it, waits until it answers and loads <see cref="DockerHostOptions.ImageArchives"/>.
    /// On failure, whatever it started is stopped again.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// dockerd is missing, not root, another process holds the data directory, or dockerd failed to
    /// start (its log is in the message).
    /// </exception>
    public static async Task<DockerHost> StartAsync(IOptions<DockerHostOptions> options, TimeProvider? timeProvider = null, ILogger<DockerHost>? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var value = options.Value;
        if (string.IsNullOrWhiteSpace(value.DataDirectory))
        {
            throw new ArgumentException("DockerHostOptions.DataDirectory is required: dockerd gets its own data root, exec root and socket under it.", nameof(options));
        }

        if (!File.Exists(value.DockerdPath))
        {
            throw new InvalidOperationException($"dockerd is not installed at {value.DockerdPath}. Run scripts/install-deps.sh (Debian's docker.io package).");
        }

        foreach (var archive in value.ImageArchives)
        {
            if (!File.Exists(archive))
            {
                throw new InvalidOperationException($"The image tarball {archive} does not exist. Build it with scripts/build-images.sh.");
            }
        }

        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException("Running dockerd needs root (it creates a network namespace, mounts container filesystems and sets up cgroups), and this process does not run as root. Run it as root.");
        }

        var host = new DockerHost(value, timeProvider ?? TimeProvider.System, (ILogger?)logger ?? NullLogger.Instance);
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Lets go of dockerd without stopping it: it keeps running with its pods in its namespace, and
    /// the next host started on the same data directory adopts it, as after this process was killed.
    /// Disposing does nothing afterwards.
    /// </summary>
    public async ValueTask DetachAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _process?.Dispose();
        if (_lock is not null)
        {
            await _lock.DisposeAsync().ConfigureAwait(false);
        }

        _logger.LogInformation("Left dockerd (pid {Pid}) running in network namespace {Namespace} for the next host on {Directory}", _pid, NetworkNamespace, DataDirectory);
    }

    /// <inheritdoc />
    public async Task<bool> RestartIfExitedAsync(CancellationToken cancellationToken)
    {
        if (_disposed || _lock is null || _pid is not { } pid || ProcessTable.IsRunning(pid))
        {
            return false;
        }

        // What the dead dockerd left (its containerd, shims and containers, docker-proxy processes,
        // mounts, run state) goes; the data root stays, with its images and the pod network, which
        // the new dockerd restores. The node agent then starts the pods again.
        _logger.LogWarning("dockerd (pid {Pid}) has exited; removing what it left and starting it again in network namespace {Namespace}", pid, NetworkNamespace);
        _process?.Dispose();
        _process = null;
        _pid = null;
        await StopLeftoversAsync(cancellationToken).ConfigureAwait(false);
        await NetworkNamespaces.KillProcessesInAsync(NetworkNamespace, _logger, _time, cancellationToken).ConfigureAwait(false);
        await DaemonDirectory.UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(ExecRoot))
        {
            Directory.Delete(ExecRoot, recursive: true);
        }

        await StartDockerdAsync(createNamespace: false, cancellationToken).ConfigureAwait(false);
        await LoadImagesAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
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
        var cancellationToken = CancellationToken.None;
        if (ProcessId is not null && _options.RemovePodsOnDispose)
        {
            await RemovePodsAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_pid is { } pid && (_process is not null || IsOurDockerd(pid)))
        {
            await DaemonProcess.StopAsync(pid, "dockerd", _options.StopTimeout, _time, _logger, _process, cancellationToken).ConfigureAwait(false);
        }

        await StopLeftoversAsync(cancellationToken).ConfigureAwait(false);
        await DaemonDirectory.UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
        if (_ownsNamespace)
        {
            await NetworkNamespaces.KillProcessesInAsync(NetworkNamespace, _logger, _time, cancellationToken).ConfigureAwait(false);
            await NetworkNamespaces.DeleteAsync(NetworkNamespace, _logger, cancellationToken).ConfigureAwait(false);
            File.Delete(NetworkNamespaceFilePath);
        }

        _process?.Dispose();
        await _lock.DisposeAsync().ConfigureAwait(false);
        if (_options.DeleteDataOnDispose)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogWarning(ex, "Could not delete dockerd's data directory {Directory}", DataDirectory);
            }
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataDirectory);
        _lock = DaemonDirectory.Lock(DataDirectory, "dockerd.lock", "dockerd");
        if (!await TryAdoptAsync(cancellationToken).ConfigureAwait(false))
        {
            await RemoveLeftoversAsync(cancellationToken).ConfigureAwait(false);
            await StartDockerdAsync(createNamespace: true, cancellationToken).ConfigureAwait(false);
        }

        await LoadImagesAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task LoadImagesAsync(CancellationToken cancellationToken)
    {
        using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), _time);
        foreach (var archive in _options.ImageArchives)
        {
            await runtime.LoadImageAsync(archive, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Loaded {Archive} into dockerd", archive);
        }
    }

    private async Task<bool> TryAdoptAsync(CancellationToken cancellationToken)
    {
        if (!int.TryParse(DaemonDirectory.ReadLine(PidFilePath), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || DaemonDirectory.ReadLine(NetworkNamespaceFilePath) is not { } recorded)
        {
            return false;
        }

        if (!IsOurDockerd(pid))
        {
            _logger.LogInformation("The dockerd of the previous run on {Directory} (pid {Pid}) is gone or runs otherwise; removing what it left and starting a new one", DataDirectory, pid);
            return false;
        }

        if (!(await NetworkNamespaces.OfProcessAsync(pid, cancellationToken).ConfigureAwait(false)).Contains(recorded, StringComparer.Ordinal))
        {
            _logger.LogWarning("The dockerd of the previous run (pid {Pid}) no longer runs in its network namespace {Namespace}: stopping it and starting a new one", pid, recorded);
            return false;
        }

        NetworkNamespace = recorded;
        using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), _time);
        try
        {
            await runtime.ConnectAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            _logger.LogWarning("The dockerd of the previous run (pid {Pid}) does not answer ({Message}): stopping it and starting a new one", pid, ex.Message);
            return false;
        }

        _pid = pid;
        _ownsNamespace = true;
        Adopted = true;
        _logger.LogInformation("Adopted dockerd (pid {Pid}) of the previous run, still running in network namespace {Namespace} with its containers", pid, recorded);
        return true;
    }

    /// <summary>Whether the PID is a running dockerd with exactly the command line this host gives it (not a reused PID, not another configuration).</summary>
    private bool IsOurDockerd(int pid) =>
        ProcessTable.IsRunning(pid) && ProcessTable.Arguments(pid).SequenceEqual(DockerdArguments(), StringComparer.Ordinal);

    private string[] DockerdArguments() =>
    [
        _options.DockerdPath,
        "--data-root", DataRoot,
        "--exec-root", ExecRoot,
        "--pidfile", PidFilePath,
        "-H", $"unix://{SocketPath}",
        "--bip", _options.DefaultBridgeAddress,

        // Containers are stopped by this host before dockerd; whatever is left gets little time.
        "--shutdown-timeout", "5",
    ];

    /// <summary>
    /// A previous host of this directory that was killed left its dockerd (and the containerd, shims
    /// and containers under it) running in its namespace: those are stopped, their mounts undone and
    /// the namespace deleted, so the new dockerd starts on a clean exec root.
    /// </summary>
    private async Task RemoveLeftoversAsync(CancellationToken cancellationToken)
    {
        var stopped = await StopLeftoversAsync(cancellationToken).ConfigureAwait(false);
        await DaemonDirectory.UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);

        // The exec root is run state (/var/run/docker on a system install, which a reboot empties): a
        // killed dockerd's (its containerd's pidfile, socket and task state) keeps a new one's
        // managed containerd from coming up.
        if (Directory.Exists(ExecRoot))
        {
            Directory.Delete(ExecRoot, recursive: true);
        }

        if (File.Exists(NetworkNamespaceFilePath))
        {
            var recorded = (await File.ReadAllTextAsync(NetworkNamespaceFilePath, cancellationToken).ConfigureAwait(false)).Trim();
            if (recorded.Length > 0 && NetworkNamespaces.Exists(recorded))
            {
                await NetworkNamespaces.KillProcessesInAsync(recorded, _logger, _time, cancellationToken).ConfigureAwait(false);
                await NetworkNamespaces.DeleteAsync(recorded, _logger, cancellationToken).ConfigureAwait(false);
            }

            File.Delete(NetworkNamespaceFilePath);
            _logger.LogWarning("Removed what the previous dockerd of {Directory} left: {Processes} process(es), its mounts, its network namespace {Namespace}", DataDirectory, stopped, recorded);
        }
    }

    private async Task StartDockerdAsync(bool createNamespace, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataRoot);
        Directory.CreateDirectory(ExecRoot);

        // A stale socket from a killed run would make the wait below succeed too early.
        File.Delete(SocketPath);

        // The namespace's name is recorded before it exists, so a host killed from here on is cleaned up after.
        await File.WriteAllTextAsync(NetworkNamespaceFilePath, NetworkNamespace + "\n", cancellationToken).ConfigureAwait(false);
        if (createNamespace)
        {
            await NetworkNamespaces.CreateAsync(NetworkNamespace, cancellationToken).ConfigureAwait(false);
            _ownsNamespace = true;
        }

        var stopwatch = Stopwatch.StartNew();
        _process = DaemonProcess.StartDetached(LogPath, NetworkNamespacePath, DockerdArguments());
        _pid = _process.Id;
        _logger.LogInformation("Started dockerd (pid {Pid}) in network namespace {Namespace}, data under {Directory}", _process.Id, NetworkNamespace, DataDirectory);

        using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), _time);
        await DaemonProcess.WaitUntilAnswersAsync(_process, "dockerd", SocketPath, LogPath, token => runtime.ConnectAsync(_options.StartTimeout, token), cancellationToken).ConfigureAwait(false);
        if (!IsOurDockerd(_process.Id))
        {
            throw new InvalidOperationException($"The process {_process.Id} started for dockerd is not dockerd with this host's arguments; this host cannot stop it by PID.");
        }

        _logger.LogInformation("dockerd ({Version}) answers after {Elapsed} ms", runtime.Version, stopwatch.ElapsedMilliseconds);
    }

    private async Task RemovePodsAsync(CancellationToken cancellationToken)
    {
        // A dockerd that hangs must not hold the stop for its call timeout: what it does not remove
        // in time is killed below with the shims.
        using var limit = new CancellationTokenSource(_options.StopTimeout * 2, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), _time);
            foreach (var sandbox in await runtime.ListPodSandboxesAsync(linked.Token).ConfigureAwait(false))
            {
                await runtime.RemovePodSandboxAsync(sandbox.Id, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException || (ex is OperationCanceledException && limit.IsCancellationRequested))
        {
            _logger.LogWarning(ex, "Could not remove every pod before stopping dockerd; leftover shims and their containers are killed instead");
        }
    }

    /// <summary>
    /// Ends every process that names this directory in its command line (a dockerd of its data
    /// root, the containerd and shims of its exec root) and the containers under those shims (each
    /// the init of its own PID namespace). Returns how many processes it ended.
    /// </summary>
    private async Task<int> StopLeftoversAsync(CancellationToken cancellationToken)
    {
        var processes = ProcessTable.List();
        var prefix = DataDirectory.TrimEnd('/') + "/";
        var ours = processes
            .Where(p => p.Pid != Environment.ProcessId && p.CommandLine.Contains(prefix, StringComparison.Ordinal)
                && (p.CommandLine.Contains("dockerd", StringComparison.Ordinal) || p.CommandLine.Contains("containerd", StringComparison.Ordinal)))
            .ToList();
        if (ours.Count == 0)
        {
            return 0;
        }

        // dockerd first, politely: it stops its containers and its containerd itself.
        foreach (var dockerd in ours.Where(p => Path.GetFileName(p.CommandLine.Split(' ')[0]) == "dockerd"))
        {
            await DaemonProcess.StopAsync(dockerd.Pid, "leftover dockerd", _options.StopTimeout, _time, _logger, _process, cancellationToken).ConfigureAwait(false);
        }

        processes = ProcessTable.List();
        var remaining = processes.Where(p => ours.Any(o => o.Pid == p.Pid) && ProcessTable.IsRunning(p.Pid)).Select(p => p.Pid).ToHashSet();
        var shims = processes.Where(p => remaining.Contains(p.Pid) && p.CommandLine.Contains("containerd-shim", StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet();
        var containers = processes.Where(p => shims.Contains(p.ParentPid)).Select(p => p.Pid).ToList();
        foreach (var pid in containers.Concat(remaining))
        {
            _logger.LogWarning("Killing process {Pid} left behind by the dockerd of {Directory}", pid, DataDirectory);
            ProcessTable.Signal(pid, ProcessTable.Sigkill);
        }

        foreach (var pid in containers.Concat(remaining))
        {
            await DaemonProcess.ExitedWithinAsync(pid, TimeSpan.FromSeconds(5), _time, null, cancellationToken).ConfigureAwait(false);
        }

        return ours.Count + containers.Count;
    }
}
