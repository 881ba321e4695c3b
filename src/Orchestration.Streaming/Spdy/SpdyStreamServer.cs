using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Orchestration.Runtime;

namespace Orchestration.Streaming.Spdy;

/// <summary>
/// kubectl's stream protocols over SPDY, served by the node agent itself for runtimes without a
/// streaming server (<see cref="IContainerStreams"/>): <c>v4.channel.k8s.io</c> for exec and attach
/// (the client opens an error stream, then stdin, stdout, stderr and resize as asked; the exit comes
/// back on the error stream as a Status) and <c>portforward.k8s.io</c> (a data and an error stream per
/// connection, tied by a request id, for the port in their headers).
/// </summary>
public static class SpdyStreamServer
{
    private const string ExecProtocol = "v4.channel.k8s.io";
    private const string PortForwardProtocol = "portforward.k8s.io";

    /// <summary>How long the client has to open the streams it asked for (kubelet's is 30 s too).</summary>
    private static readonly TimeSpan StreamCreationTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Serves an exec or attach; <paramref name="run"/> runs it on the streams and returns the exit code, if any.</summary>
    public static async Task ExecAsync(HttpContext context, StreamingOptions options, Func<ContainerStreams, CancellationToken, Task<int?>> run)
    {
        var connection = await UpgradeAsync(context, ExecProtocol).ConfigureAwait(false);
        if (connection is null)
        {
            return;
        }

        await using var _ = connection.ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var reading = connection.RunAsync(stop.Token);
        var wanted = new List<string> { "error" };
        if (options.Stdin)
        {
            wanted.Add("stdin");
        }

        if (options.Stdout)
        {
            wanted.Add("stdout");
        }

        if (options.Stderr && !options.Tty)
        {
            wanted.Add("stderr");
        }

        if (options.Tty)
        {
            wanted.Add("resize");
        }

        var streams = new Dictionary<string, SpdyStream>(StringComparer.Ordinal);
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop.Token))
        {
            deadline.CancelAfter(StreamCreationTimeout);
            try
            {
                while (streams.Count < wanted.Count)
                {
                    var stream = await connection.Accepted.ReadAsync(deadline.Token).ConfigureAwait(false);
                    streams[stream.Headers.GetValueOrDefault("streamtype") ?? ""] = stream;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                return;
            }
        }

        var error = streams["error"];
        var stdout = streams.GetValueOrDefault("stdout") is { } o ? new SpdyWriteStream(o) : null;
        var stderr = streams.GetValueOrDefault("stderr") is { } e ? new SpdyWriteStream(e) : null;
        var containerStreams = new ContainerStreams
        {
            Stdin = streams.GetValueOrDefault("stdin") is { } i ? new SpdyReadStream(i) : null,
            Stdout = stdout,
            Stderr = stderr,
            Tty = options.Tty,
            Resizes = streams.GetValueOrDefault("resize") is { } r ? ResizesOf(r, stop.Token) : null,
        };

        string status;
        try
        {
            var exit = await run(containerStreams, stop.Token).ConfigureAwait(false);
            status = exit is null or 0
                ? """{"metadata":{},"status":"Success"}"""
                : JsonSerializer.Serialize(new
                {
                    metadata = new { },
                    status = "Failure",
                    message = $"command terminated with non-zero exit code: exit status {exit}",
                    reason = "NonZeroExitCode",
                    details = new { causes = new[] { new { reason = "ExitCode", message = exit.Value.ToString(CultureInfo.InvariantCulture) } } },
                });
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException)
        {
            status = JsonSerializer.Serialize(new { metadata = new { }, status = "Failure", message = ex.Message, reason = "InternalError" });
        }

        try
        {
            await error.WriteAsync(Encoding.UTF8.GetBytes(status), stop.Token).ConfigureAwait(false);
            foreach (var stream in streams.Values)
            {
                await stream.CloseAsync(stop.Token).ConfigureAwait(false);
            }

            // kubectl closes the connection once it has read the error stream; closing first could
            // reset it before it read everything.
            await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(30), stop.Token)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // kubectl already went away.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Serves a port-forward: every data stream the client opens becomes a connection to its port.</summary>
    public static async Task PortForwardAsync(HttpContext context, Func<int, CancellationToken, Task<Stream>> connect)
    {
        var connection = await UpgradeAsync(context, PortForwardProtocol).ConfigureAwait(false);
        if (connection is null)
        {
            return;
        }

        await using var _ = connection.ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var reading = connection.RunAsync(stop.Token);
        var errors = new Dictionary<string, SpdyStream>(StringComparer.Ordinal);
        var forwards = new List<Task>();
        try
        {
            await foreach (var stream in connection.Accepted.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                var request = stream.Headers.GetValueOrDefault("requestid") ?? "";
                if (stream.Headers.GetValueOrDefault("streamtype") == "error")
                {
                    errors[request] = stream;
                    continue;
                }

                errors.TryGetValue(request, out var error);
                forwards.Add(ForwardAsync(stream, error, stream.Headers.GetValueOrDefault("port"), connect, stop.Token));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(forwards).ConfigureAwait(false);
            await Quietly(reading).ConfigureAwait(false);
        }
    }

    private static async Task ForwardAsync(SpdyStream data, SpdyStream? error, string? portText, Func<int, CancellationToken, Task<Stream>> connect, CancellationToken cancellationToken)
    {
        try
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                throw new IOException($"invalid port {portText}");
            }

            var target = await connect(port, cancellationToken).ConfigureAwait(false);
            await using var _ = target.ConfigureAwait(false);
            var up = Task.Run(
                async () =>
                {
                    await foreach (var chunk in data.Received.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                    {
                        await target.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                    }
                },
                cancellationToken);
            var buffer = new byte[32 * 1024];
            int read;
            while ((read = await target.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                await data.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }

            await data.CloseAsync(cancellationToken).ConfigureAwait(false);
            await Quietly(up).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            // kubelet's wording, which kubectl prints.
            if (error is not null)
            {
                await Quietly(error.WriteAsync(Encoding.UTF8.GetBytes($"error forwarding port {portText}: {ex.Message}"), cancellationToken)).ConfigureAwait(false);
                await Quietly(error.CloseAsync(cancellationToken)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The session ended.
        }
    }

    /// <summary>Answers the SPDY upgrade with the protocol version asked for, or refuses it.</summary>
    private static async Task<SpdyConnection?> UpgradeAsync(HttpContext context, string protocol)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var offered = context.Request.Headers["X-Stream-Protocol-Version"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries)).ToList();
        if (upgrade is not { IsUpgradableRequest: true } || !context.Request.Headers.Upgrade.ToString().Contains("SPDY/3.1", StringComparison.OrdinalIgnoreCase) || !offered.Contains(protocol))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync($"this stream needs an upgrade to SPDY/3.1 with X-Stream-Protocol-Version {protocol}", context.RequestAborted).ConfigureAwait(false);
            return null;
        }

        context.Response.Headers.Upgrade = "SPDY/3.1";
        context.Response.Headers["X-Stream-Protocol-Version"] = protocol;
        var stream = await upgrade.UpgradeAsync().ConfigureAwait(false);
        return new SpdyConnection(stream, isServer: true);
    }

    /// <summary>The sizes kubectl sends on the resize stream: JSON objects <c>{"Width":80,"Height":24}</c>, one after another.</summary>
    private static async IAsyncEnumerable<TerminalSize> ResizesOf(SpdyStream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pending = new List<byte>();
        await foreach (var chunk in stream.Received.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            pending.AddRange(chunk);
            while (true)
            {
                var reader = new Utf8JsonReader(pending.ToArray());
                TerminalSize? size = null;
                try
                {
                    using var document = JsonDocument.ParseValue(ref reader);
                    var root = document.RootElement;
                    size = new TerminalSize(root.GetProperty("Width").GetUInt16(), root.GetProperty("Height").GetUInt16());
                }
                catch (JsonException)
                {
                    break; // not a whole object yet
                }

                pending.RemoveRange(0, (int)reader.BytesConsumed);
                yield return size;
            }
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Teardown of a session whose other end is gone.
        }
    }

    /// <summary>The client's stdin stream as a readable stream that ends at its FIN.</summary>
    private sealed class SpdyReadStream(SpdyStream stream) : Stream
    {
        private ReadOnlyMemory<byte> _current;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_current.IsEmpty)
            {
                if (!await stream.Received.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) || !stream.Received.Reader.TryRead(out var next))
                {
                    return 0;
                }

                _current = next;
            }

            var count = Math.Min(buffer.Length, _current.Length);
            _current[..count].CopyTo(buffer);
            _current = _current[count..];
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A stdout or stderr stream: what is written goes to the client as data frames.</summary>
    private sealed class SpdyWriteStream(SpdyStream stream) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!buffer.IsEmpty)
            {
                await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
