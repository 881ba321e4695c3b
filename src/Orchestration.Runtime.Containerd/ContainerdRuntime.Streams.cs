using System.Net.Sockets;
using System.Text;
using Grpc.Core;

namespace Orchestration.Runtime.Containerd;

// Exec, attach and port-forward through CRI's streaming server, which listens inside containerd's network namespace, and probes from there.
public sealed partial class ContainerdRuntime
{
    /// <inheritdoc />
    /// <exception cref="TimeoutException">The command ran longer than <paramref name="timeout"/>.</exception>
    public async Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(command);
        var seconds = (long)Math.Ceiling(Math.Max(1, timeout.TotalSeconds));
        var request = new Cri.ExecSyncRequest { ContainerId = containerId, Cmd = { command }, Timeout = seconds };
        Cri.ExecSyncResponse response;
        try
        {
            // containerd enforces the timeout itself; the deadline is a backstop a few seconds later.
            response = await _runtime.ExecSyncAsync(request, new CallOptions(deadline: Deadline(TimeSpan.FromSeconds(seconds + 5)), cancellationToken: cancellationToken)).ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.DeadlineExceeded || ex.Status.Detail.Contains("timeout", StringComparison.OrdinalIgnoreCase))
        {
            throw new TimeoutException($"command [{string.Join(' ', command)}] in container {containerId} timed out after {seconds}s", ex);
        }
        catch (RpcException ex)
        {
            throw Translate(ex, "ExecSync", $"container {containerId}");
        }

        var output = Encoding.UTF8.GetString(response.Stdout.Span) + Encoding.UTF8.GetString(response.Stderr.Span);
        return new ExecResult(response.ExitCode, output);
    }

    /// <inheritdoc />
    public async Task<Uri> ExecAsync(string containerId, StreamingOptions options, IReadOnlyList<string> command, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(command);
        var request = new Cri.ExecRequest { ContainerId = containerId, Cmd = { command }, Stdin = options.Stdin, Stdout = options.Stdout, Stderr = options.Stderr && !options.Tty, Tty = options.Tty };
        var response = await CallAsync("Exec", () => _runtime.ExecAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        return new Uri(response.Url);
    }

    /// <inheritdoc />
    public async Task<Uri> AttachAsync(string containerId, StreamingOptions options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(options);
        var request = new Cri.AttachRequest { ContainerId = containerId, Stdin = options.Stdin, Stdout = options.Stdout, Stderr = options.Stderr && !options.Tty, Tty = options.Tty };
        var response = await CallAsync("Attach", () => _runtime.AttachAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        return new Uri(response.Url);
    }

    /// <inheritdoc />
    public async Task<Uri> PortForwardAsync(string sandboxId, IReadOnlyList<int> ports, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        ArgumentNullException.ThrowIfNull(ports);
        var request = new Cri.PortForwardRequest { PodSandboxId = sandboxId, Port = { ports } };
        var response = await CallAsync("PortForward", () => _runtime.PortForwardAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        return new Uri(response.Url);
    }

    /// <inheritdoc />
    public async Task<Stream> OpenStreamAsync(Uri url, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(url);

        // containerd's streaming server listens on 127.0.0.1 inside its network namespace: the socket must be made there.
        var socket = await _prober.ConnectAsync(url.Host, url.Port, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <inheritdoc />
    public Task<ProbeResult> ProbeAsync(NetworkProbe probe, TimeSpan timeout, CancellationToken cancellationToken) =>
        _prober.ProbeAsync(probe, timeout, cancellationToken);
}
