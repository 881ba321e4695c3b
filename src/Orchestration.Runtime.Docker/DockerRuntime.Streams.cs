using System.Net.Sockets;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Orchestration.Runtime.Docker;

// Exec, attach and port-forward over the Engine API's streams, and probes from inside dockerd's network namespace.
public sealed partial class DockerRuntime
{
    /// <inheritdoc />
    /// <exception cref="TimeoutException">The command ran longer than <paramref name="timeout"/> (dockerd has no way to end an exec: it keeps running).</exception>
    public async Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(command);
        var what = $"container {containerId}";
        var exec = await CallAsync(
            "exec create",
            cancellationToken,
            ct => _client.Exec.ExecCreateContainerAsync(containerId, new ContainerExecCreateParameters { Cmd = command.ToList(), AttachStdout = true, AttachStderr = true }, ct),
            what).ConfigureAwait(false);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        string output;
        try
        {
            using var stream = await _client.Exec.StartAndAttachContainerExecAsync(exec.ID, false, deadline.Token).ConfigureAwait(false);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(deadline.Token).ConfigureAwait(false);
            output = stdout + stderr;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"command [{string.Join(' ', command)}] in container {containerId} timed out after {timeout.TotalSeconds:0.###}s", ex);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, "exec start", what);
        }

        var inspected = await CallAsync("exec inspect", cancellationToken, ct => _client.Exec.InspectContainerExecAsync(exec.ID, ct), what).ConfigureAwait(false);
        return new ExecResult((int)inspected.ExitCode, output);
    }

    /// <inheritdoc />
    public async Task<int> ExecAsync(string containerId, IReadOnlyList<string> command, ContainerStreams streams, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(streams);
        var what = $"container {containerId}";
        var exec = await CallAsync(
            "exec create",
            cancellationToken,
            ct => _client.Exec.ExecCreateContainerAsync(containerId, new ContainerExecCreateParameters
            {
                Cmd = command.ToList(),
                AttachStdin = streams.Stdin is not null,
                AttachStdout = streams.Stdout is not null,
                AttachStderr = streams.Stderr is not null,
                Tty = streams.Tty,
            }, ct),
            what).ConfigureAwait(false);
        MultiplexedStream attached;
        try
        {
            attached = await _client.Exec.StartAndAttachContainerExecAsync(exec.ID, streams.Tty, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, "exec start", what);
        }

        using (attached)
        {
            await PipeAsync(attached, streams, (size, ct) => _client.Exec.ResizeContainerExecTtyAsync(exec.ID, size, ct), cancellationToken).ConfigureAwait(false);
        }

        var inspected = await CallAsync("exec inspect", cancellationToken, ct => _client.Exec.InspectContainerExecAsync(exec.ID, ct), what).ConfigureAwait(false);
        return (int)inspected.ExitCode;
    }

    /// <inheritdoc />
    public async Task<int?> AttachAsync(string containerId, ContainerStreams streams, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(containerId);
        ArgumentNullException.ThrowIfNull(streams);
        var what = $"container {containerId}";
        MultiplexedStream attached;
        try
        {
            var parameters = new ContainerAttachParameters { Stream = true, Stdin = streams.Stdin is not null, Stdout = streams.Stdout is not null, Stderr = streams.Stderr is not null };
            attached = await _client.Containers.AttachContainerAsync(containerId, streams.Tty, parameters, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, "container attach", what);
        }

        using (attached)
        {
            await PipeAsync(attached, streams, (size, ct) => _client.Containers.ResizeContainerTtyAsync(containerId, size, ct), cancellationToken).ConfigureAwait(false);
        }

        var inspected = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(containerId, ct), what, ignoreNotFound: true).ConfigureAwait(false);
        return inspected is { State.Running: false } ? (int)inspected.State.ExitCode : null;
    }

    /// <inheritdoc />
    public async Task<Stream> ConnectToPodAsync(string sandboxId, int port, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        var sandbox = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(sandboxId, ct), $"sandbox {sandboxId}").ConfigureAwait(false);
        var ip = IpOf(sandbox.NetworkSettings?.Networks);
        if (string.IsNullOrEmpty(ip))
        {
            throw new InvalidOperationException($"sandbox {sandboxId} has no IP on network {_options.NetworkName}");
        }

        // kubelet's port-forward dials the port inside the pod's network; the pod IP from dockerd's namespace reaches the same listener.
        var socket = await _prober.ConnectAsync(ip, port, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>
    /// Copies stdin in (closing the process's stdin at its end) and the output out, until the
    /// process's output ends; terminal sizes go to <paramref name="resize"/> as they come.
    /// </summary>
    private static async Task PipeAsync(MultiplexedStream attached, ContainerStreams streams, Func<ContainerResizeParameters, CancellationToken, Task> resize, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var input = streams.Stdin is { } stdin
            ? Task.Run(
                async () =>
                {
                    var buffer = new byte[16 * 1024];
                    int read;
                    while ((read = await stdin.ReadAsync(buffer, stop.Token).ConfigureAwait(false)) > 0)
                    {
                        await attached.WriteAsync(buffer, 0, read, stop.Token).ConfigureAwait(false);
                    }

                    attached.CloseWrite();
                },
                stop.Token)
            : Task.CompletedTask;
        var resizing = streams.Resizes is { } sizes
            ? Task.Run(
                async () =>
                {
                    await foreach (var size in sizes.WithCancellation(stop.Token).ConfigureAwait(false))
                    {
                        await resize(new ContainerResizeParameters { Width = size.Width, Height = size.Height }, stop.Token).ConfigureAwait(false);
                    }
                },
                stop.Token)
            : Task.CompletedTask;

        var output = new byte[16 * 1024];
        while (true)
        {
            var result = await attached.ReadOutputAsync(output, 0, output.Length, cancellationToken).ConfigureAwait(false);
            if (result.EOF)
            {
                break;
            }

            // With a tty everything is one stream, reported as stdout.
            var target = result.Target == MultiplexedStream.TargetStream.StandardError ? streams.Stderr ?? streams.Stdout : streams.Stdout;
            if (target is not null)
            {
                await target.WriteAsync(output.AsMemory(0, result.Count), cancellationToken).ConfigureAwait(false);
            }
        }

        await stop.CancelAsync().ConfigureAwait(false);
        foreach (var pump in new[] { input, resizing })
        {
            try
            {
                await pump.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or DockerApiException or ObjectDisposedException)
            {
                // The process is over: what the user still types or resizes goes nowhere.
            }
        }
    }

    /// <inheritdoc />
    public Task<ProbeResult> ProbeAsync(NetworkProbe probe, TimeSpan timeout, CancellationToken cancellationToken) =>
        _prober.ProbeAsync(probe, timeout, cancellationToken);

    /// <summary>A TCP connection to <paramref name="host"/> made from inside dockerd's network namespace, where pod IPs and host ports are.</summary>
    public Task<Socket> ConnectInNamespaceAsync(string host, int port, CancellationToken cancellationToken) =>
        _prober.ConnectAsync(host, port, cancellationToken);
}
