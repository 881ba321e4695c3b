using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Orchestration.Runtime.Containerd;

/// <summary>
/// Runs a containerd of the node's own: its config, socket, root and state under
/// <see cref="ContainerdHostOptions.DataDirectory"/>, inside a network namespace it creates (so CNI
/// bridges and NAT rules never touch the host's network), with the local images imported.
/// <para>
/// containerd outlives the process that started it, as it outlives kubelet: its PID and namespace
/// are recorded in the data directory (<c>containerd.pid</c>, <c>netns</c>), and a host started
/// again on that directory while that containerd still runs adopts it (<see cref="Adopted"/>) with
/// every container in it. When the recorded containerd is gone (it was killed, the machine
/// rebooted), the next host removes what it left (the containers and shims of its socket, their
/// network namespaces, its own, its mounts and state) and starts a new one.
/// </para>
/// <para>
/// Disposing it removes the pods, stops containerd (SIGTERM, then SIGKILL), ends the shims and
/// containers that outlived it, and deletes the namespace; <see cref="DetachAsync"/> leaves them
/// running for the next host instead. It only ever signals processes of its own data directory: the
/// containerd it started or adopted (by PID, checked against its command line) and the shims that name
/// its socket, with their containers. One host at a time holds a data directory. Needs root.
/// </para>
/// </summary>
public sealed class ContainerdHost : IAsyncDisposable
{
    private const string Namespace = "k8s.io";
    private const int Sigterm = 15;
    private const int Sigkill = 9;

    private readonly ContainerdHostOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private FileStream? _lock;
    private Process? _process;
    private int? _pid;
    private bool _ownsNamespace;
    private bool _disposed;

    private ContainerdHost(ContainerdHostOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        NetworkNamespace = options.NetworkNamespace ?? FreshNamespaceName();
    }

    /// <summary>The directory holding containerd's config, socket, root, state and the pod logs.</summary>
    public string DataDirectory { get; }

    /// <summary>The network namespace's name (<c>ip netns</c>).</summary>
    public string NetworkNamespace { get; private set; }

    /// <summary>The namespace as a path, for <c>nsenter --net=</c> and <see cref="ContainerdRuntimeOptions.NetworkNamespacePath"/>.</summary>
    public string NetworkNamespacePath => NamespacePath(NetworkNamespace);

    /// <summary>containerd's gRPC socket.</summary>
    public string SocketPath => Path.Combine(DataDirectory, "containerd.sock");

    /// <summary>containerd's config file.</summary>
    public string ConfigPath => Path.Combine(DataDirectory, "config.toml");

    /// <summary>Where containers' logs go, a directory per pod.</summary>
    public string PodLogDirectory => Path.Combine(DataDirectory, "pods");

    /// <summary>containerd's own output (it writes there directly, so it never depends on this process being alive).</summary>
    public string LogPath => Path.Combine(DataDirectory, "containerd.log");

    /// <summary>The file recording the PID of the containerd that runs for this directory.</summary>
    public string PidFilePath => Path.Combine(DataDirectory, "containerd.pid");

    /// <summary>The file recording the name of that containerd's network namespace.</summary>
    public string NetworkNamespaceFilePath => Path.Combine(DataDirectory, "netns");

    /// <summary>
    /// Whether this host found the containerd of a previous host on its data directory still running
    /// and took it over, with its containers, rather than starting one.
    /// </summary>
    public bool Adopted { get; private set; }

    /// <summary>containerd's PID, while it runs.</summary>
    public int? ProcessId => _pid is { } pid && IsRunning(pid) ? pid : null;

    /// <summary>Options for a <see cref="ContainerdRuntime"/> that talks to this containerd.</summary>
    public ContainerdRuntimeOptions RuntimeOptions => new()
    {
        SocketPath = SocketPath,
        NetworkNamespacePath = NetworkNamespacePath,
        PodLogDirectory = PodLogDirectory,
    };

    /// <summary>
    /// Adopts the containerd that a previous host left running on the data directory, or else removes
    /// what a dead one left, creates the namespace, writes the config, starts containerd in the
    /// namespace and waits until it answers CRI; then imports <see cref="ContainerdHostOptions.ImageArchives"/>.
    /// On failure, whatever it started is stopped again.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// A tool is missing, not root, another process holds the data directory, or containerd failed to
    /// start (its log is in the message).
    /// </exception>
    public static async Task<ContainerdHost> StartAsync(IOptions<ContainerdHostOptions> options, TimeProvider? timeProvider = null, ILogger<ContainerdHost>? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var value = options.Value;
        if (string.IsNullOrWhiteSpace(value.DataDirectory))
        {
            throw new ArgumentException("ContainerdHostOptions.DataDirectory is required: containerd gets its own root, state and socket under it.", nameof(options));
        }

        foreach (var (tool, path) in new[] { ("containerd", value.ContainerdPath), ("ctr", value.CtrPath) })
        {
            if (!File.Exists(path))
            {
                throw new InvalidOperationException($"{tool} is not installed at {path}. Run scripts/install-deps.sh (Debian's containerd package).");
            }
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
            throw new InvalidOperationException("Running containerd needs root (it creates a network namespace, mounts container filesystems and sets up cgroups), and this process does not run as root. Run it as root.");
        }

        var host = new ContainerdHost(value, timeProvider ?? TimeProvider.System, (ILogger?)logger ?? NullLogger.Instance);
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
    /// Lets go of containerd without stopping it: it keeps running with its pods in its namespace, and
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

        _logger.LogInformation("Left containerd (pid {Pid}) running in network namespace {Namespace} for the next host on {Directory}", _pid, NetworkNamespace, DataDirectory);
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
        if (_pid is null && ReadRecord() is { } record && IsOurContainerd(record.Pid))
        {
            // The start stopped before adopting a containerd that still runs: it stays for the next host.
            await _lock.DisposeAsync().ConfigureAwait(false);
            return;
        }

        if (ProcessId is not null && _options.RemovePodsOnDispose)
        {
            await RemovePodsAsync(cancellationToken).ConfigureAwait(false);
        }

        await StopContainerdAsync(cancellationToken).ConfigureAwait(false);
        if (await StopShimsAsync(cancellationToken).ConfigureAwait(false) > 0)
        {
            // containerd died before it could remove its pods: their mounts and state are left to clear.
            await WipeAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_ownsNamespace)
        {
            await DeleteNamespaceAsync(NetworkNamespace, cancellationToken).ConfigureAwait(false);
        }

        if (_pid is not null)
        {
            // What it recorded is stopped; a stale record it found is left for the next host to clean up after.
            DeleteRecord();
        }

        _process?.Dispose();
        await _lock.DisposeAsync().ConfigureAwait(false);
        if (_options.DeleteDataOnDispose)
        {
            await UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogWarning(ex, "Could not delete containerd's data directory {Directory}", DataDirectory);
            }
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataDirectory);
        _lock = Lock();
        var config = Config();
        var template = CniTemplate();
        var record = ReadRecord();
        if (record is not null && await TryAdoptAsync(record.Value.Pid, record.Value.Namespace, config, template, cancellationToken).ConfigureAwait(false))
        {
            await ImportImagesAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await RemoveLeftoversAsync(record?.Namespace, record is not null, cancellationToken).ConfigureAwait(false);
        await StartContainerdAsync(config, template, cancellationToken).ConfigureAwait(false);
        await ImportImagesAsync(cancellationToken).ConfigureAwait(false);
    }

    // An advisory lock (flock, released by the kernel when the process dies however it dies): two
    // hosts on one directory would adopt, stop and clean up each other's containerd.
    private FileStream Lock()
    {
        var path = Path.Combine(DataDirectory, "containerd.lock");
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"Another process runs the containerd of {DataDirectory} (it holds {path}). Stop it first, or give this one a data directory of its own.", ex);
        }
    }

    private async Task<bool> TryAdoptAsync(int pid, string? recordedNamespace, string config, string template, CancellationToken cancellationToken)
    {
        if (!IsOurContainerd(pid))
        {
            _logger.LogInformation("The containerd of the previous run on {Directory} (pid {Pid}) is gone; removing what it left and starting a new one", DataDirectory, pid);
            return false;
        }

        string? why = null;
        if (recordedNamespace is null || !File.Exists(NamespacePath(recordedNamespace)) || !await RunsInNamespaceAsync(pid, recordedNamespace, cancellationToken).ConfigureAwait(false))
        {
            why = $"it no longer runs in its network namespace {recordedNamespace}";
        }
        else if (!await SameContentAsync(ConfigPath, config, cancellationToken).ConfigureAwait(false) || !await SameContentAsync(TemplatePath, template, cancellationToken).ConfigureAwait(false))
        {
            why = "its configuration differs from this host's";
        }
        else
        {
            using var runtime = new ContainerdRuntime(Options.Create(new ContainerdRuntimeOptions { SocketPath = SocketPath }), _time);
            try
            {
                await runtime.ConnectAsync(_options.StartTimeout, cancellationToken).ConfigureAwait(false);
                NetworkNamespace = recordedNamespace;
                _pid = pid;
                _ownsNamespace = true;
                Adopted = true;
                _logger.LogInformation("Adopted containerd (pid {Pid}) of the previous run, still running in network namespace {Namespace} with its containers", pid, recordedNamespace);
                return true;
            }
            catch (IOException ex)
            {
                why = $"it does not answer CRI ({ex.Message})";
            }
        }

        _logger.LogWarning("The containerd of the previous run (pid {Pid}) still runs but {Reason}: stopping it, removing what it left and starting a new one", pid, why);
        await StopProcessAsync(pid, cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>
    /// Removes what a containerd of this directory that is no longer running left: the shims that name
    /// its socket and the containers under them (with their pod network namespaces), its own
    /// namespace, and, when there was such a containerd, its mounts, state, root, CNI data and pod
    /// logs, so the new one starts clean rather than with sandboxes whose processes are gone.
    /// </summary>
    private async Task RemoveLeftoversAsync(string? recordedNamespace, bool recorded, CancellationToken cancellationToken)
    {
        var shims = await StopShimsAsync(cancellationToken).ConfigureAwait(false);
        if (recordedNamespace is not null && File.Exists(NamespacePath(recordedNamespace)))
        {
            await DeleteNamespaceAsync(recordedNamespace, cancellationToken).ConfigureAwait(false);
        }

        if (!recorded && shims == 0)
        {
            // A first start, or one after a clean stop: the root (with its imported images) is kept.
            return;
        }

        await WipeAsync(cancellationToken).ConfigureAwait(false);
        DeleteRecord();
        _logger.LogWarning("Removed what the previous containerd of {Directory} left: {Shims} shim(s) with their containers, its network namespace {Namespace}, its state", DataDirectory, shims, recordedNamespace ?? "(none recorded)");
    }

    // What a containerd whose containers are gone leaves: mounts of their filesystems, task and
    // sandbox state, metadata of sandboxes that no longer run, IP reservations, logs, sockets.
    private async Task WipeAsync(CancellationToken cancellationToken)
    {
        await UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
        foreach (var directory in new[] { "state", "root", "cni/ipam", "cni/conf", "pods" })
        {
            var path = Path.Combine(DataDirectory, directory);
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogWarning(ex, "Could not delete {Directory} of a containerd whose containers are gone", path);
            }
        }

        File.Delete(SocketPath);
        File.Delete(SocketPath + ".ttrpc");
    }

    private async Task StartContainerdAsync(string config, string template, CancellationToken cancellationToken)
    {
        foreach (var directory in new[] { "root", "state", "cni/conf", "cni/ipam", "pods" })
        {
            Directory.CreateDirectory(Path.Combine(DataDirectory, directory));
        }

        await File.WriteAllTextAsync(TemplatePath, template, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(ConfigPath, config, cancellationToken).ConfigureAwait(false);

        // A stale socket from a crashed run would make the wait below succeed too early.
        File.Delete(SocketPath);

        await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", NetworkNamespace], cancellationToken).ConfigureAwait(false);
        _ownsNamespace = true;
        await ProcessRunner.RunCheckedAsync("ip", ["-n", NetworkNamespace, "link", "set", "lo", "up"], cancellationToken).ConfigureAwait(false);

        // containerd must not depend on this process staying alive: its output goes to its log file,
        // not to a pipe (a Go program writing to a pipe nobody reads dies of SIGPIPE), and it gets a
        // session of its own, so neither a terminal's Ctrl-C nor its hangup reaches it; this host stops
        // it itself. nsenter, not `ip netns exec`: the latter remounts /sys and hides the cgroup mounts
        // runc needs. sh, setsid (no fork: sh is not a group leader) and nsenter each exec in place,
        // so the PID is containerd's own.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var argument in new[]
        {
            "-c", "log=$1; shift; exec setsid \"$@\" </dev/null >>\"$log\" 2>&1", "orch-containerd", LogPath,
            "nsenter", $"--net={NetworkNamespacePath}", _options.ContainerdPath, "--config", ConfigPath,
        })
        {
            start.ArgumentList.Add(argument);
        }

        var stopwatch = Stopwatch.StartNew();
        _process = Process.Start(start) ?? throw new InvalidOperationException("sh did not start");
        _pid = _process.Id;
        WriteRecord(_process.Id);
        _logger.LogInformation("Started containerd (pid {Pid}) in network namespace {Namespace}, data under {Directory}", _process.Id, NetworkNamespace, DataDirectory);

        using (var runtime = new ContainerdRuntime(Options.Create(RuntimeOptions), _time))
        {
            using var exited = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var watch = WatchExitAsync(_process, exited);
            try
            {
                await runtime.ConnectAsync(_options.StartTimeout, exited.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException($"containerd did not come up on {SocketPath}: {ex.Message}\n--- its log ({LogPath}):\n{Tail()}", ex);
            }
            finally
            {
                await exited.CancelAsync().ConfigureAwait(false);
                await watch.ConfigureAwait(false);
            }
        }

        if (!IsOurContainerd(_process.Id))
        {
            throw new InvalidOperationException($"The process {_process.Id} started for containerd is not containerd --config {ConfigPath}; this host cannot stop it by PID.");
        }

        _logger.LogInformation("containerd answers CRI after {Elapsed} ms", stopwatch.ElapsedMilliseconds);
    }

    private async Task ImportImagesAsync(CancellationToken cancellationToken)
    {
        foreach (var archive in _options.ImageArchives)
        {
            await ProcessRunner.RunCheckedAsync(_options.CtrPath, ["-a", SocketPath, "-n", Namespace, "images", "import", archive], cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Imported {Archive} into containerd", archive);
        }
    }

    // Cancels the wait for the socket as soon as containerd dies, so a bad config fails at once.
    private static async Task WatchExitAsync(Process process, CancellationTokenSource exited)
    {
        try
        {
            await process.WaitForExitAsync(exited.Token).ConfigureAwait(false);
            await exited.CancelAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The wait ended first.
        }
    }

    private async Task RemovePodsAsync(CancellationToken cancellationToken)
    {
        // A containerd that hangs must not hold the stop for its 2-minute call timeout: what it does
        // not remove in time is killed below with the shims.
        using var limit = new CancellationTokenSource(_options.StopTimeout * 3, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            using var runtime = new ContainerdRuntime(Options.Create(RuntimeOptions), _time);
            foreach (var sandbox in await runtime.ListPodSandboxesAsync(linked.Token).ConfigureAwait(false))
            {
                await runtime.StopPodSandboxAsync(sandbox.Id, linked.Token).ConfigureAwait(false);
                await runtime.RemovePodSandboxAsync(sandbox.Id, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException || (ex is OperationCanceledException && limit.IsCancellationRequested))
        {
            _logger.LogWarning(ex, "Could not remove every pod sandbox before stopping containerd; leftover shims and their containers are killed instead");
        }
    }

    private async Task StopContainerdAsync(CancellationToken cancellationToken)
    {
        if (_pid is { } pid && (_process is not null || IsOurContainerd(pid)))
        {
            await StopProcessAsync(pid, cancellationToken).ConfigureAwait(false);
        }
    }

    // SIGTERM, then SIGKILL after StopTimeout. The process may not be this one's child (an adopted
    // containerd), so its exit is watched through /proc rather than waited for.
    private async Task StopProcessAsync(int pid, CancellationToken cancellationToken)
    {
        if (!IsRunning(pid))
        {
            return;
        }

        Signal(pid, Sigterm);
        if (await ExitedWithinAsync(pid, _options.StopTimeout, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        _logger.LogWarning("containerd (pid {Pid}) did not stop within {Timeout}; killing it", pid, _options.StopTimeout);
        Signal(pid, Sigkill);
        if (!await ExitedWithinAsync(pid, TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false))
        {
            _logger.LogWarning("containerd (pid {Pid}) is still there 10 s after SIGKILL", pid);
        }
    }

    private async Task<bool> ExitedWithinAsync(int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (IsRunning(pid))
        {
            if (_time.GetUtcNow() >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), _time, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>
    /// Shims outlive containerd by design (so containers survive its restarts). Those of this
    /// directory's containerd name its socket in their command line: those, the containers under them
    /// (each the init of its own PID namespace, so killing it ends everything in it), and the pod
    /// network namespaces those containers ran in are ended. Returns how many shims there were.
    /// </summary>
    private async Task<int> StopShimsAsync(CancellationToken cancellationToken)
    {
        var processes = ListProcesses();
        var shims = processes
            .Where(p => p.CommandLine.Contains("containerd-shim", StringComparison.Ordinal) && p.CommandLine.Contains(SocketPath, StringComparison.Ordinal))
            .Select(p => p.Pid)
            .ToHashSet();
        if (shims.Count == 0)
        {
            return 0;
        }

        var containers = processes.Where(p => shims.Contains(p.ParentPid)).Select(p => p.Pid).ToList();
        var podNamespaces = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pid in containers)
        {
            var (_, names) = await ProcessRunner.RunAsync("ip", ["netns", "identify", pid.ToString(CultureInfo.InvariantCulture)], cancellationToken).ConfigureAwait(false);
            foreach (var name in names.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                // A host-network pod shares containerd's namespace, which is deleted on its own terms.
                if (name != NetworkNamespace)
                {
                    podNamespaces.Add(name);
                }
            }
        }

        foreach (var pid in containers)
        {
            _logger.LogWarning("Killing container process {Pid} left under a shim of {Socket}", pid, SocketPath);
            Signal(pid, Sigkill);
        }

        foreach (var pid in shims)
        {
            _logger.LogWarning("Killing leftover containerd shim {Pid} of {Socket}", pid, SocketPath);
            Signal(pid, Sigkill);
        }

        foreach (var pid in containers.Concat(shims))
        {
            await ExitedWithinAsync(pid, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }

        foreach (var name in podNamespaces)
        {
            await DeleteNamespaceAsync(name, cancellationToken).ConfigureAwait(false);
        }

        return shims.Count;
    }

    private async Task DeleteNamespaceAsync(string name, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await ProcessRunner.RunAsync("ip", ["netns", "delete", name], cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            _logger.LogWarning("Could not delete network namespace {Namespace}: {Output}", name, output.Trim());
        }
    }

    // Whether the process runs in the named namespace (ip compares the namespace inodes).
    private static async Task<bool> RunsInNamespaceAsync(int pid, string name, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await ProcessRunner.RunAsync("ip", ["netns", "identify", pid.ToString(CultureInfo.InvariantCulture)], cancellationToken).ConfigureAwait(false);
        return exitCode == 0 && output.Split('\n', StringSplitOptions.TrimEntries).Contains(name, StringComparer.Ordinal);
    }

    /// <summary>Whether the PID is a running containerd with this directory's config (not a reused PID).</summary>
    private bool IsOurContainerd(int pid)
    {
        if (!IsRunning(pid))
        {
            return false;
        }

        string[] arguments;
        try
        {
            arguments = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        var config = Array.IndexOf(arguments, "--config");
        return arguments.Length > 0
            && Path.GetFileName(arguments[0]) == Path.GetFileName(_options.ContainerdPath)
            && config > 0 && config + 1 < arguments.Length && arguments[config + 1] == ConfigPath;
    }

    /// <summary>Whether the PID exists and has not exited (a zombie waiting to be reaped has).</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");

            // "pid (comm) S ...": the command may hold spaces and parentheses, the state follows the last ')'.
            var state = stat[(stat.LastIndexOf(')') + 2)..];
            return state.Length > 0 && state[0] is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static List<(int Pid, int ParentPid, string CommandLine)> ListProcesses()
    {
        var list = new List<(int, int, string)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture);
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                list.Add((pid, parent, commandLine));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // Gone meanwhile.
            }
        }

        return list;
    }

    private (int Pid, string? Namespace)? ReadRecord()
    {
        try
        {
            if (!int.TryParse(File.ReadAllText(PidFilePath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                return null;
            }

            var name = File.Exists(NetworkNamespaceFilePath) ? File.ReadAllText(NetworkNamespaceFilePath).Trim() : null;
            return (pid, string.IsNullOrEmpty(name) ? null : name);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private void WriteRecord(int pid)
    {
        // The namespace first: a PID file always comes with the namespace it belongs to.
        WriteAtomically(NetworkNamespaceFilePath, NetworkNamespace + "\n");
        WriteAtomically(PidFilePath, pid.ToString(CultureInfo.InvariantCulture) + "\n");
    }

    private void DeleteRecord()
    {
        File.Delete(PidFilePath);
        File.Delete(NetworkNamespaceFilePath);
    }

    private static void WriteAtomically(string path, string content)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }

    private static async Task<bool> SameContentAsync(string path, string content, CancellationToken cancellationToken) =>
        File.Exists(path) && await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false) == content;

    // Overlay, shm and netns mounts under the data directory would make deleting it fail (or reach into a container's files).
    private static async Task UnmountUnderAsync(string directory, CancellationToken cancellationToken)
    {
        var prefix = directory.TrimEnd('/') + "/";
        var mountPoints = (await File.ReadAllLinesAsync("/proc/self/mountinfo", cancellationToken).ConfigureAwait(false))
            .Select(line => line.Split(' ')[4].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(point => point.StartsWith(prefix, StringComparison.Ordinal))
            .OrderByDescending(point => point.Length)
            .ToList();
        foreach (var point in mountPoints)
        {
            await ProcessRunner.RunAsync("umount", ["-l", point], cancellationToken).ConfigureAwait(false);
        }
    }

    private static string NamespacePath(string name) => $"/var/run/netns/{name}";

    private static string FreshNamespaceName() => $"orch-{Guid.NewGuid().ToString("N")[..8]}";

    private string TemplatePath => Path.Combine(DataDirectory, "cni/bridge.conflist.tmpl");

    private string Config()
    {
        static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        return $"""
            version = 2
            root = {Quote(Path.Combine(DataDirectory, "root"))}
            state = {Quote(Path.Combine(DataDirectory, "state"))}

            [grpc]
              address = {Quote(SocketPath)}

            # The CRI plugin: without restrict_oom_score_adj every sandbox fails here (no CAP_SYS_RESOURCE),
            # and the sandbox image is a local one since no registry can be reached.
            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = {Quote(_options.SandboxImage)}
              restrict_oom_score_adj = true
              [plugins."io.containerd.grpc.v1.cri".containerd]
                snapshotter = "overlayfs"
                default_runtime_name = "runc"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"
              # UpdateRuntimeConfig renders the template with the node's pod CIDR into conf_dir.
              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = {Quote(_options.CniBinDirectory)}
                conf_dir = {Quote(Path.Combine(DataDirectory, "cni/conf"))}
                conf_template = {Quote(TemplatePath)}

            """;
    }

    // containerd's CRI plugin adds the loopback network itself; the chain gives the pod its bridge IP
    // (host-local, its data under our directory) and hostPorts (portmap).
    private string CniTemplate() => $$"""
        {
          "cniVersion": "0.4.0",
          "name": "orchestration",
          "plugins": [
            {
              "type": "bridge",
              "bridge": "{{_options.BridgeName}}",
              "isGateway": true,
              "ipMasq": true,
              "hairpinMode": true,
              "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": "{{"{{"}}.PodCIDR{{"}}"}}" }]],
                "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": "{{Path.Combine(DataDirectory, "cni/ipam")}}"
              }
            },
            {
              "type": "portmap",
              "capabilities": { "portMappings": true }
            }
          ]
        }

        """;

    private string Tail()
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var lines = reader.ReadToEnd().Split('\n');
            return string.Join('\n', lines.TakeLast(30));
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    private static void Signal(int pid, int signal) => _ = NativeMethods.Kill(pid, signal);
}
