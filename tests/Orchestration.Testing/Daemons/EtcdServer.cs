using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Orchestration.Testing.Daemons;

/// <summary>
/// A real etcd (from the Debian package) started on loopback with its data in a temporary
/// directory; disposing it kills the process by its PID and deletes the data.
/// </summary>
public sealed class EtcdServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private EtcdServer(Process process, string dataDirectory, int clientPort)
    {
        _process = process;
        DataDirectory = dataDirectory;
        ClientPort = clientPort;
    }

    /// <summary>Where etcd keeps its data.</summary>
    public string DataDirectory { get; }

    /// <summary>The loopback port clients connect to.</summary>
    public int ClientPort { get; }

    /// <summary>The client URL, for the etcd client.</summary>
    public string ClientUrl => $"http://127.0.0.1:{ClientPort}";

    /// <summary>The process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Where the etcd binary is looked for; ETCD_BIN overrides it.</summary>
    public static string BinaryPath => Environment.GetEnvironmentVariable("ETCD_BIN") is { Length: > 0 } bin ? bin : "/usr/bin/etcd";

    /// <summary>Starts a single-member etcd and waits until it answers.</summary>
    /// <exception cref="InvalidOperationException">etcd is not installed, or did not come up.</exception>
    public static async Task<EtcdServer> StartAsync(CancellationToken cancellationToken = default)
    {
        if (!File.Exists(BinaryPath))
        {
            throw new InvalidOperationException($"etcd is not installed at {BinaryPath}. Run scripts/install-deps.sh (it installs Debian's etcd-server), or set ETCD_BIN.");
        }

        var dataDirectory = Directory.CreateTempSubdirectory("orch-etcd-").FullName;
        var clientPort = FreePorts.Next();
        var peerPort = FreePorts.Next();
        var start = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            "--name", "orch-test",
            "--data-dir", dataDirectory,
            "--listen-client-urls", $"http://127.0.0.1:{clientPort}",
            "--advertise-client-urls", $"http://127.0.0.1:{clientPort}",
            "--listen-peer-urls", $"http://127.0.0.1:{peerPort}",
            "--initial-advertise-peer-urls", $"http://127.0.0.1:{peerPort}",
            "--initial-cluster", $"orch-test=http://127.0.0.1:{peerPort}",
            "--initial-cluster-state", "new",
            "--log-level", "warn",
        })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("etcd did not start.");
        var server = new EtcdServer(process, dataDirectory, clientPort);
        process.OutputDataReceived += (_, e) => server.Record(e.Data);
        process.ErrorDataReceived += (_, e) => server.Record(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await server.WaitUntilServingAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Kills etcd (by PID) and deletes its data.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: false);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }

    private async Task WaitUntilServingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"etcd exited with code {_process.ExitCode}: {Output()}");
            }

            try
            {
                var health = await http.GetStringAsync($"{ClientUrl}/health", cancellationToken).ConfigureAwait(false);
                if (health.Contains("\"health\":\"true\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or SocketException)
            {
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        throw new InvalidOperationException($"etcd did not become healthy within {timeout}: {Output()}");
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }
}
