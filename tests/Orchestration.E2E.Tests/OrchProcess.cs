using System.Diagnostics;
using System.Net.Sockets;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// The real <c>orch up</c> (or <c>orch agent</c>), started as a process on a loopback port and stopped
/// with SIGINT, as Ctrl-C would. Without <c>--runtime</c> among the extra arguments it runs with <c>--runtime none</c> (no
/// node): the control-plane tests need neither root nor the second a containerd takes to start.
/// </summary>
public sealed class OrchProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];
    private bool _disposed;

    private OrchProcess(Process process, string dataDir, int port)
    {
        _process = process;
        DataDir = dataDir;
        Port = port;
    }

    public string DataDir { get; }

    public int Port { get; }

    public string Kubeconfig => Path.Combine(DataDir, "kubeconfig");

    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    public static Task<OrchProcess> StartAsync(string? dataDir = null, int? port = null, params string[] extraArgs)
    {
        dataDir ??= Directory.CreateTempSubdirectory("orch-e2e-").FullName;
        var chosen = port ?? FreePorts.Next();
        var runtime = extraArgs.Contains("--runtime") ? [] : new[] { "--runtime", "none" };
        string[] args = ["up", "--data-dir", dataDir, "--port", chosen.ToString(System.Globalization.CultureInfo.InvariantCulture), .. runtime, .. NoDnsForwarding(extraArgs), .. extraArgs];
        return LaunchAsync(args, "serving at", dataDir, chosen);
    }

    /// <summary>
    /// The real <c>orch agent</c>, a worker joining the cluster of <paramref name="kubeconfig"/> with its
    /// node's data under <paramref name="dataDir"/>; started once it says it joined.
    /// </summary>
    public static Task<OrchProcess> StartAgentAsync(string kubeconfig, string dataDir, params string[] extraArgs) =>
        LaunchAsync(["agent", "--kubeconfig", kubeconfig, "--data-dir", dataDir, .. NoDnsForwarding(extraArgs), .. extraArgs], "joined the cluster", dataDir, 0);

    /// <summary>
    /// The nodes' cluster DNS forwards nowhere unless a test says otherwise: a test never sends a query
    /// to the machine's own resolvers.
    /// </summary>
    private static string[] NoDnsForwarding(string[] extraArgs) => extraArgs.Contains("--dns-upstream") ? [] : ["--dns-upstream", "none"];

    /// <summary><c>orch</c> with <paramref name="args"/>, run to its exit (a command that fails at start).</summary>
    public static Task<CommandResult> RunToExitAsync(TimeSpan timeout, params string[] args) =>
        DotnetCommand.RunAsync([Path.Combine(AppContext.BaseDirectory, "orch.dll"), .. args], timeout);

    /// <summary>
    /// A sample host app (built beside the tests), started with <paramref name="args"/> once it prints
    /// <paramref name="readyLine"/>, and stopped with SIGINT like orch.
    /// </summary>
    public static Task<OrchProcess> StartSampleAsync(string sample, string[] args, string readyLine, string dataDir, int port = 0) =>
        LaunchAsync(args, readyLine, dataDir, port, GreetingControllerTests.SampleAssembly(sample));

    /// <summary>
    /// <c>orch up</c> as a user runs it after <c>dotnet tool install</c>: the tool's own executable,
    /// from <paramref name="workingDirectory"/>.
    /// </summary>
    public static Task<OrchProcess> StartInstalledAsync(string executable, string workingDirectory, string dataDir, int port, params string[] extraArgs) =>
        LaunchAsync(["up", "--data-dir", dataDir, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extraArgs], "serving at", dataDir, port, executable: executable, workingDirectory: workingDirectory);

    private static async Task<OrchProcess> LaunchAsync(string[] args, string readyLine, string dataDir, int port, string? assembly = null, string? executable = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(executable ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory ?? "" };
        if (executable is null)
        {
            start.ArgumentList.Add(assembly ?? Path.Combine(AppContext.BaseDirectory, "orch.dll"));
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("orch did not start");
        var orchProcess = new OrchProcess(process, dataDir, port);
        process.OutputDataReceived += (_, e) => orchProcess.Record(e.Data);
        process.ErrorDataReceived += (_, e) => orchProcess.Record(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!orchProcess.Output.Contains(readyLine, StringComparison.Ordinal))
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await orchProcess.DisposeAsync();
                throw new InvalidOperationException($"{Path.GetFileNameWithoutExtension(assembly ?? executable ?? "orch")} {args.FirstOrDefault()} did not come up:\n{orchProcess.Output}");
            }

            await Task.Delay(100);
        }

        return orchProcess;
    }

    /// <summary>Sends SIGINT and waits for the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (_process.HasExited)
        {
            return _process.ExitCode;
        }

        using (var kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill!.WaitForExitAsync();
        }

        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(limit.Token);
        return _process.ExitCode;
    }

    /// <summary>Kills orch with SIGKILL, as a crash or the OOM killer would: nothing of its own shutdown runs.</summary>
    public async Task KillAsync()
    {
        // Only orch itself: whatever it started (containerd) is left as a crash leaves it.
        _process.Kill(entireProcessTree: false);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(limit.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            try
            {
                await StopAsync();
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    /// <summary>Whether something accepts connections on the port.</summary>
    public bool IsListening()
    {
        try
        {
            using var client = new TcpClient("127.0.0.1", Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Record(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.Add(line);
            }
        }
    }
}
