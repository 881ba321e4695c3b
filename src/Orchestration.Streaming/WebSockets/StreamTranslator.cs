using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Orchestration.Client;
using Orchestration.Streaming.Spdy;

namespace Orchestration.Streaming.WebSockets;

/// <summary>
/// Serves kubectl's WebSocket streams over SPDY towards the node, as kube-apiserver does since 1.30:
/// exec and attach in the <c>v5.channel.k8s.io</c> protocol (each message a channel byte, then data:
/// 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close a channel), translated to the SPDY
/// streams of <c>v4.channel.k8s.io</c>; port-forward in <c>SPDY/3.1+portforward.k8s.io</c>, which is
/// SPDY carried inside WebSocket messages and only needs unwrapping. Container runtimes' streaming
/// servers speak SPDY, and only older WebSocket protocols without a way to close stdin.
/// </summary>
public static class StreamTranslator
{
    /// <summary>kubectl's WebSocket protocol for exec and attach.</summary>
    public const string ChannelV5 = "v5.channel.k8s.io";

    /// <summary>kubectl's WebSocket protocol for port-forward: SPDY inside WebSocket.</summary>
    public const string PortForwardTunnel = "SPDY/3.1+portforward.k8s.io";

    /// <summary>The fixed GUID of the WebSocket handshake (RFC 6455, section 1.3).</summary>
    private const string WebSocketKeyGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private const byte Stdin = 0;
    private const byte Stdout = 1;
    private const byte Stderr = 2;
    private const byte Error = 3;
    private const byte Resize = 4;
    private const byte Close = 255;

    /// <summary>Whether the request is a WebSocket upgrade that offers <paramref name="protocol"/>.</summary>
    public static bool Offers(HttpContext context, string protocol) =>
        context.WebSockets.IsWebSocketRequest && context.WebSockets.WebSocketRequestedProtocols.Contains(protocol);

    /// <summary>Exec or attach: a v5 WebSocket from kubectl, SPDY to the node.</summary>
    public static async Task ExecAsync(HttpContext context, Uri target, Func<CancellationToken, Task<Stream>> connect, bool stdin, bool stdout, bool stderr, bool tty)
    {
        var cancellationToken = context.RequestAborted;

        // The node is asked first: a refusal (no such container, not running) is still an ordinary HTTP error.
        var transport = await UpgradeAsync(target, connect, "v4.channel.k8s.io", cancellationToken).ConfigureAwait(false);
        await using var session = new SpdyConnection(transport, isServer: false);
        using var socket = await context.WebSockets.AcceptWebSocketAsync(ChannelV5).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = session.RunAsync(stop.Token);
        var error = await Open(session, "error", stop.Token).ConfigureAwait(false);
        var input = stdin ? await Open(session, "stdin", stop.Token).ConfigureAwait(false) : null;
        var output = stdout ? await Open(session, "stdout", stop.Token).ConfigureAwait(false) : null;
        var errors = stderr && !tty ? await Open(session, "stderr", stop.Token).ConfigureAwait(false) : null;
        var resize = tty ? await Open(session, "resize", stop.Token).ConfigureAwait(false) : null;

        using var sendLock = new SemaphoreSlim(1, 1);
        var downstream = new List<Task>
        {
            CopyToSocketAsync(error, Error, socket, sendLock, stop.Token),
        };
        if (output is not null)
        {
            downstream.Add(CopyToSocketAsync(output, Stdout, socket, sendLock, stop.Token));
        }

        if (errors is not null)
        {
            downstream.Add(CopyToSocketAsync(errors, Stderr, socket, sendLock, stop.Token));
        }

        var upstream = CopyFromSocketAsync(socket, input, resize, stop.Token);
        try
        {
            // The command is over when the node has closed every stream it writes.
            await Task.WhenAll(downstream).ConfigureAwait(false);
            await sendLock.WaitAsync(stop.Token).ConfigureAwait(false);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", stop.Token).ConfigureAwait(false);

            // kubectl answers the close once it has read everything; leaving before that would reset
            // a connection it is still reading, and a reset can drop what it has not read yet.
            await Task.WhenAny(upstream, Task.Delay(TimeSpan.FromSeconds(30), stop.Token)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // kubectl went away, or the node did: there is no one left to tell.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await IgnoreAsync(upstream).ConfigureAwait(false);
            await IgnoreAsync(reading).ConfigureAwait(false);
        }
    }

    /// <summary>Port-forward: unwraps the SPDY that kubectl sends inside WebSocket messages.</summary>
    public static async Task PortForwardAsync(HttpContext context, Uri target, Func<CancellationToken, Task<Stream>> connect)
    {
        var cancellationToken = context.RequestAborted;
        var transport = await UpgradeAsync(target, connect, "portforward.k8s.io", cancellationToken).ConfigureAwait(false);
        await using var _ = transport.ConfigureAwait(false);
        using var socket = await AcceptTunnelAsync(context).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var up = Task.Run(
            async () =>
            {
                var buffer = new byte[32 * 1024];
                while (true)
                {
                    var received = await socket.ReceiveAsync(buffer, stop.Token).ConfigureAwait(false);
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    await transport.WriteAsync(buffer.AsMemory(0, received.Count), stop.Token).ConfigureAwait(false);
                    await transport.FlushAsync(stop.Token).ConfigureAwait(false);
                }
            },
            stop.Token);
        var down = Task.Run(
            async () =>
            {
                var buffer = new byte[32 * 1024];
                int read;
                while ((read = await transport.ReadAsync(buffer, stop.Token).ConfigureAwait(false)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), WebSocketMessageType.Binary, endOfMessage: true, stop.Token).ConfigureAwait(false);
                }
            },
            stop.Token);
        await IgnoreAsync(Task.WhenAny(up, down)).ConfigureAwait(false);
        if (socket.State == WebSocketState.Open)
        {
            await IgnoreAsync(socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None)).ConfigureAwait(false);
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await IgnoreAsync(up).ConfigureAwait(false);
        await IgnoreAsync(down).ConfigureAwait(false);
    }

    /// <summary>
    /// Accepts the tunnel's WebSocket by hand: its protocol name holds a '/', which the WebSocket
    /// classes refuse as a subprotocol token although kubectl sends it.
    /// </summary>
    private static async Task<WebSocket> AcceptTunnelAsync(HttpContext context)
    {
        var key = context.Request.Headers.SecWebSocketKey.ToString();
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + WebSocketKeyGuid)));
        context.Response.Headers.Upgrade = "websocket";
        context.Response.Headers.SecWebSocketAccept = accept;
        context.Response.Headers.SecWebSocketProtocol = PortForwardTunnel;
        var stream = await context.Features.Get<IHttpUpgradeFeature>()!.UpgradeAsync().ConfigureAwait(false);
        return WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.FromSeconds(30) });
    }

    /// <summary>Opens a SPDY connection to the node for the given Kubernetes stream protocol.</summary>
    private static async Task<Stream> UpgradeAsync(Uri target, Func<CancellationToken, Task<Stream>> connect, string protocol, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { ConnectCallback = async (_, token) => await connect(token).ConfigureAwait(false), AllowAutoRedirect = false, UseCookies = false };
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Post, target) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Connection.Add("Upgrade");
        request.Headers.TryAddWithoutValidation("Upgrade", "SPDY/3.1");
        request.Headers.TryAddWithoutValidation("X-Stream-Protocol-Version", protocol);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.SwitchingProtocols)
        {
            using (response)
            {
                var message = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                throw new ClusterApiException((int)response.StatusCode is >= 400 and < 600 and var code ? code : 502, "BadRequest", message.Length > 0 ? message : $"the node refused the stream: {(int)response.StatusCode}");
            }
        }

        return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Task<SpdyStream> Open(SpdyConnection session, string type, CancellationToken cancellationToken) =>
        session.OpenStreamAsync(new Dictionary<string, string> { ["streamtype"] = type }, cancellationToken);

    private static async Task CopyToSocketAsync(SpdyStream from, byte channel, WebSocket socket, SemaphoreSlim sendLock, CancellationToken cancellationToken)
    {
        await foreach (var data in from.Received.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var message = new byte[data.Length + 1];
            message[0] = channel;
            data.CopyTo(message, 1);
            await sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await socket.SendAsync(message, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                sendLock.Release();
            }
        }
    }

    private static async Task CopyFromSocketAsync(WebSocket socket, SpdyStream? stdin, SpdyStream? resize, CancellationToken cancellationToken)
    {
        var buffer = new byte[32 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            message.Write(buffer, 0, received.Count);
            if (!received.EndOfMessage)
            {
                continue;
            }

            var bytes = message.ToArray();
            message.SetLength(0);
            if (bytes.Length == 0)
            {
                continue;
            }

            var data = bytes.AsMemory(1);
            switch (bytes[0])
            {
                case Stdin when stdin is not null && data.Length > 0:
                    await stdin.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                    break;
                case Resize when resize is not null:
                    await resize.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                    break;
                case Close when data.Length > 0 && data.Span[0] == Stdin && stdin is not null:
                    // v5's reason to exist: the end of stdin reaches the command (kubectl cp into a pod needs it).
                    await stdin.CloseAsync(cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    break;
            }
        }
    }

    private static async Task IgnoreAsync(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // Teardown of a stream whose other end is gone.
        }
    }
}
