using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Orchestration.Runtime.Containerd;

/// <summary>
/// Runs a containerd of the node's own: its config, socket, root and state under
/// <see cref="ContainerdHostOptions.DataDirectory"/>, inside a network namespace it creates (so CNI
/// bridges and NAT rules never touch the host's network), with the local images imported. Disposing
/// it removes the pods, stops containerd (SIGTERM, then SIGKILL), ends the shims that containerd left,
/// and deletes the namespace. It only ever signals processes it started, by their PID. Needs root.
/// </summary>
public sealed class ContainerdHost : IAsyncDisposable
{
    private const string Namespace = "k8s.io";

    private readonly ContainerdHostOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly StreamWriter _log;
    private Process? _process;
    private bool _namespaceCreated;
    private bool _disposed;

    private ContainerdHost(ContainerdHostOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        DataDirectory = Path.GetFullPath(options.DataDirectory);
        NetworkNamespace = options.NetworkNamespace ?? $"orch-{Guid.NewGuid().ToString("N")[..8]}";
        Directory.CreateDirectory(DataDirectory);
        _log = new StreamWriter(Path.Combine(DataDirectory, "containerd.log"), append: true, Encoding.UTF8) { AutoFlush = true };
    }

    /// <summary>The directory holding containerd's config, socket, root, state and the pod logs.</summary>
    public string DataDirectory { get; }

    /// <summary>The network namespace's name (<c>ip netns</c>).</summary>
    public string NetworkNamespace { get; }

    /// <summary>The namespace as a path, for <c>nsenter --net=</c> and <see cref="ContainerdRuntimeOptions.NetworkNamespacePath"/>.</summary>
    public string NetworkNamespacePath => $"/var/run/netns/{NetworkNamespace}";

    /// <summary>containerd's gRPC socket.</summary>
    public string SocketPath => Path.Combine(DataDirectory, "containerd.sock");

    /// <summary>containerd's config file.</summary>
    public string ConfigPath => Path.Combine(DataDirectory, "config.toml");

    /// <summary>Where containers' logs go, a directory per pod.</summary>
    public string PodLogDirectory => Path.Combine(DataDirectory, "pods");

    /// <summary>containerd's PID, while it runs.</summary>
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    /// <summary>Options for a <see cref="ContainerdRuntime"/> that talks to this containerd.</summary>
    public ContainerdRuntimeOptions RuntimeOptions => new()
    {
        SocketPath = SocketPath,
        NetworkNamespacePath = NetworkNamespacePath,
        PodLogDirectory = PodLogDirectory,
    };

    /// <summary>
    /// Creates the namespace, writes the config, starts containerd in the namespace, waits until it
    /// answers CRI and imports <see cref="ContainerdHostOptions.ImageArchives"/>. On failure, whatever
    /// it started is stopped again.
    /// </summary>
    /// <exception cref="InvalidOperationException">A tool is missing, not root, or containerd failed to start (its log is in the message).</exception>
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

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // Cleanup must finish even when the caller is being cancelled: nothing may be left behind.
        var cancellationToken = CancellationToken.None;
        if (_process is { HasExited: false } && _options.RemovePodsOnDispose)
        {
            await RemovePodsAsync(cancellationToken).ConfigureAwait(false);
        }

        await StopContainerdAsync(cancellationToken).ConfigureAwait(false);
        await StopLeftoverShimsAsync(cancellationToken).ConfigureAwait(false);
        if (_namespaceCreated)
        {
            var (exitCode, output) = await ProcessRunner.RunAsync("ip", ["netns", "delete", NetworkNamespace], cancellationToken).ConfigureAwait(false);
            if (exitCode != 0)
            {
                _logger.LogWarning("Could not delete network namespace {Namespace}: {Output}", NetworkNamespace, output.Trim());
            }
        }

        await _log.DisposeAsync().ConfigureAwait(false);
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
        foreach (var directory in new[] { "root", "state", "cni/conf", "cni/ipam", "pods" })
        {
            Directory.CreateDirectory(Path.Combine(DataDirectory, directory));
        }

        await File.WriteAllTextAsync(Path.Combine(DataDirectory, "cni/bridge.conflist.tmpl"), CniTemplate(), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(ConfigPath, Config(), cancellationToken).ConfigureAwait(false);

        // A stale socket from a crashed run would make the wait below succeed too early.
        File.Delete(SocketPath);

        await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", NetworkNamespace], cancellationToken).ConfigureAwait(false);
        _namespaceCreated = true;
        await ProcessRunner.RunCheckedAsync("ip", ["-n", NetworkNamespace, "link", "set", "lo", "up"], cancellationToken).ConfigureAwait(false);

        // nsenter, not `ip netns exec`: the latter remounts /sys and hides the cgroup mounts runc needs.
        // nsenter execs containerd in place, so the PID below is containerd's own.
        var start = new ProcessStartInfo("nsenter")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { $"--net={NetworkNamespacePath}", _options.ContainerdPath, "--config", ConfigPath })
        {
            start.ArgumentList.Add(argument);
        }

        var stopwatch = Stopwatch.StartNew();
        _process = Process.Start(start) ?? throw new InvalidOperationException("nsenter did not start");
        _process.OutputDataReceived += (_, e) => Log(e.Data);
        _process.ErrorDataReceived += (_, e) => Log(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
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
                throw new InvalidOperationException($"containerd did not come up on {SocketPath}: {ex.Message}\n--- its log ({Path.Combine(DataDirectory, "containerd.log")}):\n{Tail()}", ex);
            }
            finally
            {
                await exited.CancelAsync().ConfigureAwait(false);
                await watch.ConfigureAwait(false);
            }
        }

        _logger.LogInformation("containerd answers CRI after {Elapsed} ms", stopwatch.ElapsedMilliseconds);
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
        try
        {
            using var runtime = new ContainerdRuntime(Options.Create(RuntimeOptions), _time);
            foreach (var sandbox in await runtime.ListPodSandboxesAsync(cancellationToken).ConfigureAwait(false))
            {
                await runtime.StopPodSandboxAsync(sandbox.Id, cancellationToken).ConfigureAwait(false);
                await runtime.RemovePodSandboxAsync(sandbox.Id, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            _logger.LogWarning(ex, "Could not remove every pod sandbox before stopping containerd; leftover shims are killed instead");
        }
    }

    private async Task StopContainerdAsync(CancellationToken cancellationToken)
    {
        if (_process is null)
        {
            return;
        }

        using (_process)
        {
            if (!_process.HasExited)
            {
                Signal(_process.Id, Sigterm);
                using var timeout = new CancellationTokenSource(_options.StopTimeout, _time);
                try
                {
                    await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    _logger.LogWarning("containerd (pid {Pid}) did not stop within {Timeout}; killing it", _process.Id, _options.StopTimeout);
                    _process.Kill();
                    await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    // Shims outlive containerd by design (so containers survive its restarts). The ones of this
    // containerd name its socket in their command line: those, and only those, are ended.
    private async Task StopLeftoverShimsAsync(CancellationToken cancellationToken)
    {
        var address = SocketPath;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string commandLine;
            try
            {
                commandLine = (await File.ReadAllTextAsync(Path.Combine(directory, "cmdline"), cancellationToken).ConfigureAwait(false)).Replace('\0', ' ');
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // gone meanwhile
            }

            if (commandLine.Contains("containerd-shim", StringComparison.Ordinal) && commandLine.Contains(address, StringComparison.Ordinal))
            {
                _logger.LogWarning("Killing leftover containerd shim {Pid}: {CommandLine}", pid, commandLine);
                Signal(pid, Sigkill);
            }
        }
    }

    // Overlay and netns mounts under the data directory would make deleting it fail (or reach into a container's files).
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
                conf_template = {Quote(Path.Combine(DataDirectory, "cni/bridge.conflist.tmpl"))}

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

    private void Log(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (!_disposed)
            {
                _log.WriteLine(line);
            }
        }
    }

    private string Tail()
    {
        lock (_log)
        {
            _log.Flush();
        }

        try
        {
            using var stream = new FileStream(Path.Combine(DataDirectory, "containerd.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var lines = reader.ReadToEnd().Split('\n');
            return string.Join('\n', lines.TakeLast(30));
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    private const int Sigterm = 15;
    private const int Sigkill = 9;

    private static void Signal(int pid, int signal) => _ = NativeMethods.Kill(pid, signal);
}
