using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux;
using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.Runtime.Containerd;

/// <summary>
/// Runs a containerd of the node's own: its config, socket, root and state under
/// <see cref="ContainerdHostOptions.DataDirectory"/>, inside a network namespace it creates (so CNI
/// bridges and NAT rules never touch the host's network), with the local images imported.
/// <para>
/// containerd outlives the process that started it, as it outlives kubelet: its PID and namespace
/// are recorded in the data directory (<c>containerd.pid</c>, <c>netns</c>), and a host started
/// again on that directory while that containerd still runs adopts it (<see cref="DaemonHost.Adopted"/>) with
/// every container in it. When the recorded containerd is gone (it was killed, the machine
/// rebooted), the next host removes what it left (the containers and shims of its socket, their
/// network namespaces, its own, its mounts and state) and starts a new one.
/// </para>
/// <para>
/// Disposing it removes the pods, stops containerd (SIGTERM, then SIGKILL), ends the shims and
/// containers that outlived it, and deletes the namespace; <see cref="DaemonHost.DetachAsync"/> leaves them
/// running for the next host instead. It only ever signals processes of its own data directory: the
/// containerd it started or adopted (by PID, checked against its command line) and the shims that name
/// its socket, with their containers. One host at a time holds a data directory. Needs root.
/// </para>
/// </summary>
public sealed partial class ContainerdHost : DaemonHost
{
    private const string Namespace = "k8s.io";

    private readonly ContainerdHostOptions _options;

    private ContainerdHost(ContainerdHostOptions options, TimeProvider time, ILogger logger)
        : base("containerd", options.DataDirectory, options.NetworkNamespace, options.DeleteDataOnDispose, time, logger)
    {
        _options = options;
    }

    /// <summary>containerd's gRPC socket.</summary>
    public override string SocketPath => Path.Combine(DataDirectory, "containerd.sock");

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

        CheckPrerequisites("containerd", value.ImageArchives);
        return await StartAsync(new ContainerdHost(value, timeProvider ?? TimeProvider.System, (ILogger?)logger ?? NullLogger.Instance), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Its containers' processes would outlive it under their shims, but the new containerd starts
    /// on wiped state (as after any containerd of this directory that died) and knows none of them:
    /// they go, with their namespaces, and the node agent starts the pods again.
    /// </remarks>
    protected override async Task StartAgainAsync(CancellationToken cancellationToken)
    {
        await StopShimsAsync(cancellationToken).ConfigureAwait(false);
        await WipeAsync(cancellationToken).ConfigureAwait(false);
        await StartContainerdAsync(Config(), CniTemplate(), createNamespace: false, cancellationToken).ConfigureAwait(false);
        await ImportImagesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override async Task<bool> StopAllAsync(CancellationToken cancellationToken)
    {
        if (Pid is null && ReadRecord() is { } record && IsOurContainerd(record.Pid))
        {
            // The start stopped before adopting a containerd that still runs: it stays for the next host.
            return false;
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

        if (OwnsNamespace)
        {
            await NetworkNamespaces.DeleteAsync(NetworkNamespace, Logger, cancellationToken).ConfigureAwait(false);
        }

        if (Pid is not null)
        {
            // What it recorded is stopped; a stale record it found is left for the next host to clean up after.
            DeleteRecord();
        }

        return true;
    }

    /// <inheritdoc />
    protected override async Task StartOrAdoptAsync(CancellationToken cancellationToken)
    {
        var config = Config();
        var template = CniTemplate();
        var record = ReadRecord();
        if (record is not null && await TryAdoptAsync(record.Value.Pid, record.Value.Namespace, config, template, cancellationToken).ConfigureAwait(false))
        {
            await ImportImagesAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await RemoveLeftoversAsync(record?.Namespace, record is not null, cancellationToken).ConfigureAwait(false);
        await StartContainerdAsync(config, template, createNamespace: true, cancellationToken).ConfigureAwait(false);
        await ImportImagesAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> TryAdoptAsync(int pid, string? recordedNamespace, string config, string template, CancellationToken cancellationToken)
    {
        if (!IsOurContainerd(pid))
        {
            Log.LogPreviousGone(Logger, DataDirectory, pid);
            return false;
        }

        string? why = null;
        if (recordedNamespace is null || !File.Exists(NetworkNamespaces.PathOf(recordedNamespace)) || !(await NetworkNamespaces.OfProcessAsync(pid, cancellationToken).ConfigureAwait(false)).Contains(recordedNamespace, StringComparer.Ordinal))
        {
            why = $"it no longer runs in its network namespace {recordedNamespace}";
        }
        else if (!await SameContentAsync(ConfigPath, config, cancellationToken).ConfigureAwait(false) || !await SameContentAsync(TemplatePath, template, cancellationToken).ConfigureAwait(false))
        {
            why = "its configuration differs from this host's";
        }
        else
        {
            using var runtime = new ContainerdRuntime(Options.Create(new ContainerdRuntimeOptions { SocketPath = SocketPath }), Time);
            try
            {
                await runtime.ConnectAsync(_options.StartTimeout, cancellationToken).ConfigureAwait(false);
                NetworkNamespace = recordedNamespace;
                Pid = pid;
                OwnsNamespace = true;
                Adopted = true;
                Log.LogAdopted(Logger, pid, recordedNamespace);
                return true;
            }
            catch (IOException ex)
            {
                why = $"it does not answer CRI ({ex.Message})";
            }
        }

        Log.LogPreviousReplaced(Logger, pid, why);
        await DaemonProcess.StopAsync(pid, "containerd", _options.StopTimeout, Time, Logger, Started, cancellationToken).ConfigureAwait(false);
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
        if (recordedNamespace is not null && File.Exists(NetworkNamespaces.PathOf(recordedNamespace)))
        {
            await NetworkNamespaces.DeleteAsync(recordedNamespace, Logger, cancellationToken).ConfigureAwait(false);
        }

        if (!recorded && shims == 0)
        {
            // A first start, or one after a clean stop: the root (with its imported images) is kept.
            return;
        }

        await WipeAsync(cancellationToken).ConfigureAwait(false);
        DeleteRecord();
        Log.LogLeftoversRemoved(Logger, DataDirectory, shims, recordedNamespace ?? "(none recorded)");
    }

    // What a containerd whose containers are gone leaves: mounts of their filesystems, task and
    // sandbox state, metadata of sandboxes that no longer run, IP reservations, logs, sockets.
    private async Task WipeAsync(CancellationToken cancellationToken)
    {
        await DaemonDirectory.UnmountUnderAsync(DataDirectory, cancellationToken).ConfigureAwait(false);
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
                Log.LogWipeFailed(Logger, ex, path);
            }
        }

        File.Delete(SocketPath);
        File.Delete(SocketPath + ".ttrpc");
    }

    private async Task StartContainerdAsync(string config, string template, bool createNamespace, CancellationToken cancellationToken)
    {
        foreach (var directory in new[] { "root", "state", "cni/conf", "cni/ipam", "pods" })
        {
            Directory.CreateDirectory(Path.Combine(DataDirectory, directory));
        }

        await File.WriteAllTextAsync(TemplatePath, template, cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(ConfigPath, config, cancellationToken).ConfigureAwait(false);

        // A stale socket from a crashed run would make the wait below succeed too early.
        File.Delete(SocketPath);

        if (createNamespace)
        {
            await NetworkNamespaces.CreateAsync(NetworkNamespace, cancellationToken).ConfigureAwait(false);
            OwnsNamespace = true;
        }

        var stopwatch = Stopwatch.StartNew();
        Started = DaemonProcess.StartDetached(LogPath, NetworkNamespacePath, [_options.ContainerdPath, "--config", ConfigPath]);
        Pid = Started.Id;
        WriteRecord(Started.Id);
        Log.LogStarted(Logger, Started.Id, NetworkNamespace, DataDirectory);

        using (var runtime = new ContainerdRuntime(Options.Create(RuntimeOptions), Time))
        {
            await DaemonProcess.WaitUntilAnswersAsync(Started, "containerd", SocketPath, LogPath, token => runtime.ConnectAsync(_options.StartTimeout, token), cancellationToken).ConfigureAwait(false);
        }

        if (!IsOurContainerd(Started.Id))
        {
            throw new InvalidOperationException($"The process {Started.Id} started for containerd is not containerd --config {ConfigPath}; this host cannot stop it by PID.");
        }

        Log.LogAnswers(Logger, stopwatch.ElapsedMilliseconds);
    }

    private async Task ImportImagesAsync(CancellationToken cancellationToken)
    {
        foreach (var archive in _options.ImageArchives)
        {
            await ProcessRunner.RunCheckedAsync(_options.CtrPath, ["-a", SocketPath, "-n", Namespace, "images", "import", archive], cancellationToken).ConfigureAwait(false);
            Log.LogImageImported(Logger, archive);
        }
    }

    private async Task RemovePodsAsync(CancellationToken cancellationToken)
    {
        // A containerd that hangs must not hold the stop for its 2-minute call timeout: what it does
        // not remove in time is killed below with the shims.
        using var limit = new CancellationTokenSource(_options.StopTimeout * 3, Time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            using var runtime = new ContainerdRuntime(Options.Create(RuntimeOptions), Time);
            foreach (var sandbox in await runtime.ListPodSandboxesAsync(linked.Token).ConfigureAwait(false))
            {
                await runtime.StopPodSandboxAsync(sandbox.Id, linked.Token).ConfigureAwait(false);
                await runtime.RemovePodSandboxAsync(sandbox.Id, linked.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException || (ex is OperationCanceledException && limit.IsCancellationRequested))
        {
            Log.LogPodsNotRemoved(Logger, ex);
        }
    }

    private async Task StopContainerdAsync(CancellationToken cancellationToken)
    {
        if (Pid is { } pid && (Started is not null || IsOurContainerd(pid)))
        {
            await DaemonProcess.StopAsync(pid, "containerd", _options.StopTimeout, Time, Logger, Started, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Shims outlive containerd by design (so containers survive its restarts). Those of this
    /// directory's containerd name its socket in their command line: those, the containers under them
    /// (each the init of its own PID namespace, so killing it ends everything in it), and the pod
    /// network namespaces those containers ran in are ended. Returns how many shims there were.
    /// </summary>
    private async Task<int> StopShimsAsync(CancellationToken cancellationToken)
    {
        var processes = ProcessTable.List();
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
            foreach (var name in await NetworkNamespaces.OfProcessAsync(pid, cancellationToken).ConfigureAwait(false))
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
            Log.LogKillingContainer(Logger, pid, SocketPath);
            ProcessTable.Signal(pid, ProcessTable.Sigkill);
        }

        foreach (var pid in shims)
        {
            Log.LogKillingShim(Logger, pid, SocketPath);
            ProcessTable.Signal(pid, ProcessTable.Sigkill);
        }

        foreach (var pid in containers.Concat(shims))
        {
            await DaemonProcess.ExitedWithinAsync(pid, TimeSpan.FromSeconds(5), Time, null, cancellationToken).ConfigureAwait(false);
        }

        foreach (var name in podNamespaces)
        {
            await NetworkNamespaces.DeleteAsync(name, Logger, cancellationToken).ConfigureAwait(false);
        }

        return shims.Count;
    }

    /// <summary>Whether the PID is a running containerd with this directory's config (not a reused PID).</summary>
    private bool IsOurContainerd(int pid)
    {
        var arguments = ProcessTable.IsRunning(pid) ? ProcessTable.Arguments(pid) : [];
        var config = Array.IndexOf(arguments, "--config");
        return arguments.Length > 0
            && Path.GetFileName(arguments[0]) == Path.GetFileName(_options.ContainerdPath)
            && config > 0 && config + 1 < arguments.Length && arguments[config + 1] == ConfigPath;
    }

    private (int Pid, string? Namespace)? ReadRecord() =>
        int.TryParse(DaemonDirectory.ReadLine(PidFilePath), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            ? (pid, DaemonDirectory.ReadLine(NetworkNamespaceFilePath))
            : null;

    private void WriteRecord(int pid)
    {
        // The namespace first: a PID file always comes with the namespace it belongs to.
        DaemonDirectory.WriteAtomically(NetworkNamespaceFilePath, NetworkNamespace + "\n");
        DaemonDirectory.WriteAtomically(PidFilePath, pid.ToString(CultureInfo.InvariantCulture) + "\n");
    }

    private void DeleteRecord()
    {
        File.Delete(PidFilePath);
        File.Delete(NetworkNamespaceFilePath);
    }

    private static async Task<bool> SameContentAsync(string path, string content, CancellationToken cancellationToken) =>
        File.Exists(path) && await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false) == content;

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

    private static partial class Log
    {
        [LoggerMessage(EventId = 4100, Level = LogLevel.Information, Message = "The containerd of the previous run on {Directory} (pid {Pid}) is gone; removing what it left and starting a new one")]
        public static partial void LogPreviousGone(ILogger logger, string directory, int pid);

        [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Adopted containerd (pid {Pid}) of the previous run, still running in network namespace {Namespace} with its containers")]
        public static partial void LogAdopted(ILogger logger, int pid, string? @namespace);

        [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "The containerd of the previous run (pid {Pid}) still runs but {Reason}: stopping it, removing what it left and starting a new one")]
        public static partial void LogPreviousReplaced(ILogger logger, int pid, string? reason);

        [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Removed what the previous containerd of {Directory} left: {Shims} shim(s) with their containers, its network namespace {Namespace}, its state")]
        public static partial void LogLeftoversRemoved(ILogger logger, string directory, int shims, string @namespace);

        [LoggerMessage(EventId = 4104, Level = LogLevel.Warning, Message = "Could not delete {Directory} of a containerd whose containers are gone")]
        public static partial void LogWipeFailed(ILogger logger, Exception ex, string directory);

        [LoggerMessage(EventId = 4105, Level = LogLevel.Information, Message = "Started containerd (pid {Pid}) in network namespace {Namespace}, data under {Directory}")]
        public static partial void LogStarted(ILogger logger, int pid, string @namespace, string directory);

        [LoggerMessage(EventId = 4106, Level = LogLevel.Information, Message = "containerd answers CRI after {Elapsed} ms")]
        public static partial void LogAnswers(ILogger logger, long elapsed);

        [LoggerMessage(EventId = 4107, Level = LogLevel.Information, Message = "Imported {Archive} into containerd")]
        public static partial void LogImageImported(ILogger logger, string archive);

        [LoggerMessage(EventId = 4108, Level = LogLevel.Warning, Message = "Could not remove every pod sandbox before stopping containerd; leftover shims and their containers are killed instead")]
        public static partial void LogPodsNotRemoved(ILogger logger, Exception ex);

        [LoggerMessage(EventId = 4109, Level = LogLevel.Warning, Message = "Killing container process {Pid} left under a shim of {Socket}")]
        public static partial void LogKillingContainer(ILogger logger, int pid, string socket);

        [LoggerMessage(EventId = 4110, Level = LogLevel.Warning, Message = "Killing leftover containerd shim {Pid} of {Socket}")]
        public static partial void LogKillingShim(ILogger logger, int pid, string socket);
    }
}
