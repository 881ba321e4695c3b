using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux;
using Orchestration.Runtime.Linux.Daemons;

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
/// (<see cref="DaemonHost.Adopted"/>) with every container in it. When the recorded dockerd is gone or does not
/// qualify, what it left (its containerd, shims and containers, mounts, namespace) is removed first.
/// </para>
/// <para>
/// Disposing removes the pods, stops dockerd (SIGTERM, then SIGKILL), ends the containerd, shims
/// and containers of its exec root that outlived it, unmounts what is left under the data directory
/// (dockerd leaves <c>exec/netns/default</c> mounted) and deletes the namespace;
/// <see cref="DaemonHost.DetachAsync"/> leaves them running for the next host instead. It only ever signals
/// processes of its own data directory or namespace. One host at a time holds a data directory.
/// Needs root.
/// </para>
/// </summary>
public sealed partial class DockerHost : DaemonHost
{
    private readonly DockerHostOptions _options;

    private DockerHost(DockerHostOptions options, TimeProvider time, ILogger logger)
        : base("dockerd", options.DataDirectory, options.NetworkNamespace, options.DeleteDataOnDispose, time, logger)
    {
        _options = options;
    }

    /// <summary>dockerd's API socket.</summary>
    public override string SocketPath => Path.Combine(DataDirectory, "docker.sock");

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

        CheckPrerequisites("dockerd", value.ImageArchives);
        return await StartAsync(new DockerHost(value, timeProvider ?? TimeProvider.System, (ILogger?)logger ?? NullLogger.Instance), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// What the dead dockerd left (its containerd, shims and containers, docker-proxy processes,
    /// mounts, run state) goes; the data root stays, with its images and the pod network, which the
    /// new dockerd restores. The node agent then starts the pods again.
    /// </remarks>
    protected override async Task StartAgainAsync(CancellationToken cancellationToken)
    {
        await StopLeftoversAsync(cancellationToken).ConfigureAwait(false);
        await NetworkNamespaces.KillProcessesInAsync(NetworkNamespace, Logger, Time, cancellationToken).ConfigureAwait(false);
        await DaemonDirectory.UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(ExecRoot))
        {
            Directory.Delete(ExecRoot, recursive: true);
        }

        await StartDockerdAsync(createNamespace: false, cancellationToken).ConfigureAwait(false);
        await AllowTranslatedTrafficAsync(cancellationToken).ConfigureAwait(false);
        await LoadImagesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task<bool> StopAllAsync(CancellationToken cancellationToken)
    {
        if (ProcessId is not null && _options.RemovePodsOnDispose)
        {
            await RemovePodsAsync(cancellationToken).ConfigureAwait(false);
        }

        if (Pid is { } pid && (Started is not null || IsOurDockerd(pid)))
        {
            await DaemonProcess.StopAsync(pid, "dockerd", _options.StopTimeout, Time, Logger, Started, cancellationToken).ConfigureAwait(false);
        }

        await StopLeftoversAsync(cancellationToken).ConfigureAwait(false);
        await DaemonDirectory.UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
        if (OwnsNamespace)
        {
            await NetworkNamespaces.KillProcessesInAsync(NetworkNamespace, Logger, Time, cancellationToken).ConfigureAwait(false);
            await NetworkNamespaces.DeleteAsync(NetworkNamespace, Logger, cancellationToken).ConfigureAwait(false);
            File.Delete(NetworkNamespaceFilePath);
        }

        return true;
    }

    /// <inheritdoc />
    protected override async Task StartOrAdoptAsync(CancellationToken cancellationToken)
    {
        if (!await TryAdoptAsync(cancellationToken).ConfigureAwait(false))
        {
            await RemoveLeftoversAsync(cancellationToken).ConfigureAwait(false);
            await StartDockerdAsync(createNamespace: true, cancellationToken).ConfigureAwait(false);
        }

        await AllowTranslatedTrafficAsync(cancellationToken).ConfigureAwait(false);
        await LoadImagesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Docker's FORWARD chain drops what enters its bridges from elsewhere unless Docker published it,
    /// which would stop a node port or an external IP that the node's network proxy translated to a
    /// pod. Docker leaves its DOCKER-USER chain to the machine's owner: an accept for translated
    /// (DNAT) connections there lets Service traffic through, as kube-proxy's forward rules do.
    /// </summary>
    private async Task AllowTranslatedTrafficAsync(CancellationToken cancellationToken)
    {
        string[] rule = ["DOCKER-USER", "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"];
        var (present, _) = await ProcessRunner.RunAsync("nsenter", [$"--net={NetworkNamespacePath}", "iptables", "-C", .. rule], cancellationToken).ConfigureAwait(false);
        if (present == 0)
        {
            return;
        }

        var (exitCode, output) = await ProcessRunner.RunAsync("nsenter", [$"--net={NetworkNamespacePath}", "iptables", "-I", .. rule], cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            Log.LogForwardRuleFailed(Logger, output.Trim());
        }
    }

    private async Task LoadImagesAsync(CancellationToken cancellationToken)
    {
        using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), Time);
        foreach (var archive in _options.ImageArchives)
        {
            await runtime.LoadImageAsync(archive, cancellationToken).ConfigureAwait(false);
            Log.LogImageLoaded(Logger, archive);
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
            Log.LogPreviousGone(Logger, DataDirectory, pid);
            return false;
        }

        if (!(await NetworkNamespaces.OfProcessAsync(pid, cancellationToken).ConfigureAwait(false)).Contains(recorded, StringComparer.Ordinal))
        {
            Log.LogPreviousLeftNamespace(Logger, pid, recorded);
            return false;
        }

        NetworkNamespace = recorded;
        using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), Time);
        try
        {
            await runtime.ConnectAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            Log.LogPreviousNotAnswering(Logger, pid, ex.Message);
            return false;
        }

        Pid = pid;
        OwnsNamespace = true;
        Adopted = true;
        Log.LogAdopted(Logger, pid, recorded);
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
                await NetworkNamespaces.KillProcessesInAsync(recorded, Logger, Time, cancellationToken).ConfigureAwait(false);
                await NetworkNamespaces.DeleteAsync(recorded, Logger, cancellationToken).ConfigureAwait(false);
            }

            File.Delete(NetworkNamespaceFilePath);
            Log.LogLeftoversRemoved(Logger, DataDirectory, stopped, recorded);
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
            OwnsNamespace = true;
        }

        var stopwatch = Stopwatch.StartNew();
        Started = DaemonProcess.StartDetached(LogPath, NetworkNamespacePath, DockerdArguments());
        Pid = Started.Id;
        Log.LogStarted(Logger, Started.Id, NetworkNamespace, DataDirectory);

        using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), Time);
        await DaemonProcess.WaitUntilAnswersAsync(Started, "dockerd", SocketPath, LogPath, token => runtime.ConnectAsync(_options.StartTimeout, token), cancellationToken).ConfigureAwait(false);
        if (!IsOurDockerd(Started.Id))
        {
            throw new InvalidOperationException($"The process {Started.Id} started for dockerd is not dockerd with this host's arguments; this host cannot stop it by PID.");
        }

        Log.LogAnswers(Logger, runtime.Version, stopwatch.ElapsedMilliseconds);
    }

    private async Task RemovePodsAsync(CancellationToken cancellationToken)
    {
        // A dockerd that hangs must not hold the stop for its call timeout: what it does not remove
        // in time is killed below with the shims.
        using var limit = new CancellationTokenSource(_options.StopTimeout * 2, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            using var runtime = new DockerRuntime(Options.Create(RuntimeOptions), Time);
            foreach (var sandbox in await runtime.ListPodSandboxesAsync(linked.Token).ConfigureAwait(false))
            {
                await runtime.RemovePodSandboxAsync(sandbox.Id, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException || (ex is OperationCanceledException && limit.IsCancellationRequested))
        {
            Log.LogPodsNotRemoved(Logger, ex);
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
            await DaemonProcess.StopAsync(dockerd.Pid, "leftover dockerd", _options.StopTimeout, Time, Logger, Started, cancellationToken).ConfigureAwait(false);
        }

        processes = ProcessTable.List();
        var remaining = processes.Where(p => ours.Any(o => o.Pid == p.Pid) && ProcessTable.IsRunning(p.Pid)).Select(p => p.Pid).ToHashSet();
        var shims = processes.Where(p => remaining.Contains(p.Pid) && p.CommandLine.Contains("containerd-shim", StringComparison.Ordinal)).Select(p => p.Pid).ToHashSet();
        var containers = processes.Where(p => shims.Contains(p.ParentPid)).Select(p => p.Pid).ToList();
        foreach (var pid in containers.Concat(remaining))
        {
            Log.LogKillingLeftover(Logger, pid, DataDirectory);
            ProcessTable.Signal(pid, ProcessTable.Sigkill);
        }

        foreach (var pid in containers.Concat(remaining))
        {
            await DaemonProcess.ExitedWithinAsync(pid, TimeSpan.FromSeconds(5), Time, null, cancellationToken).ConfigureAwait(false);
        }

        return ours.Count + containers.Count;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4200, Level = LogLevel.Information, Message = "Loaded {Archive} into dockerd")]
        public static partial void LogImageLoaded(ILogger logger, string archive);

        [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "The dockerd of the previous run on {Directory} (pid {Pid}) is gone or runs otherwise; removing what it left and starting a new one")]
        public static partial void LogPreviousGone(ILogger logger, string directory, int pid);

        [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "The dockerd of the previous run (pid {Pid}) no longer runs in its network namespace {Namespace}: stopping it and starting a new one")]
        public static partial void LogPreviousLeftNamespace(ILogger logger, int pid, string @namespace);

        [LoggerMessage(EventId = 4203, Level = LogLevel.Warning, Message = "The dockerd of the previous run (pid {Pid}) does not answer ({Message}): stopping it and starting a new one")]
        public static partial void LogPreviousNotAnswering(ILogger logger, int pid, string message);

        [LoggerMessage(EventId = 4204, Level = LogLevel.Information, Message = "Adopted dockerd (pid {Pid}) of the previous run, still running in network namespace {Namespace} with its containers")]
        public static partial void LogAdopted(ILogger logger, int pid, string @namespace);

        [LoggerMessage(EventId = 4205, Level = LogLevel.Warning, Message = "Removed what the previous dockerd of {Directory} left: {Processes} process(es), its mounts, its network namespace {Namespace}")]
        public static partial void LogLeftoversRemoved(ILogger logger, string directory, int processes, string @namespace);

        [LoggerMessage(EventId = 4206, Level = LogLevel.Information, Message = "Started dockerd (pid {Pid}) in network namespace {Namespace}, data under {Directory}")]
        public static partial void LogStarted(ILogger logger, int pid, string @namespace, string directory);

        [LoggerMessage(EventId = 4207, Level = LogLevel.Information, Message = "dockerd ({Version}) answers after {Elapsed} ms")]
        public static partial void LogAnswers(ILogger logger, string version, long elapsed);

        [LoggerMessage(EventId = 4211, Level = LogLevel.Warning, Message = "Could not let translated Service traffic through Docker's forward chain (node ports to pods will not answer): {Output}")]
        public static partial void LogForwardRuleFailed(ILogger logger, string output);

        [LoggerMessage(EventId = 4208, Level = LogLevel.Warning, Message = "Could not remove every pod before stopping dockerd; leftover shims and their containers are killed instead")]
        public static partial void LogPodsNotRemoved(ILogger logger, Exception ex);

        [LoggerMessage(EventId = 4209, Level = LogLevel.Warning, Message = "Killing process {Pid} left behind by the dockerd of {Directory}")]
        public static partial void LogKillingLeftover(ILogger logger, int pid, string directory);
    }
}
