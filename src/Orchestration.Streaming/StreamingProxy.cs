using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Orchestration.Streaming;

/// <summary>
/// Forwards one HTTP request to a backend over a connection the caller opens, upgrade-aware: a
/// request that asks to switch protocols (kubectl's SPDY/3.1 or WebSocket streams for exec, attach
/// and port-forward) becomes a raw two-way pipe once the backend agrees; any other request (logs)
/// has its response relayed as it streams. The API server uses it towards node agents, and node
/// agents towards their runtime's streaming server, as kube-apiserver and kubelet do.
/// </summary>
public static class StreamingProxy
{
    // Hop-by-hop headers are the proxy's own business; the rest describe the stream and pass through.
    private static readonly HashSet<string> NotForwarded = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Proxy-Connection", "Proxy-Authorization", "Authorization", "Content-Length", "Upgrade",
    };

    /// <summary>
    /// Sends <paramref name="context"/>'s request (method, the stream headers, no body) to
    /// <paramref name="target"/> over the connection <paramref name="connect"/> opens, and answers
    /// the client with what the backend answers.
    /// </summary>
    /// <param name="context">The client's request; its response is written.</param>
    /// <param name="target">The backend URL (only its path and query are sent; the host is informative).</param>
    /// <param name="connect">Opens a connection to the backend.</param>
    /// <param name="refusal">
    /// Turns a backend's error answer (its status code and text) into the exception the caller
    /// reports in its own shape; without it the answer is relayed as it is.
    /// </param>
    public static async Task ForwardAsync(HttpContext context, Uri target, Func<CancellationToken, Task<Stream>> connect, Func<int, string, Exception>? refusal = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(connect);
        var cancellationToken = context.RequestAborted;
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var upgrading = upgrade is { IsUpgradableRequest: true };
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) => await connect(token).ConfigureAwait(false),
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), target)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        foreach (var (name, values) in context.Request.Headers)
        {
            if (!NotForwarded.Contains(name) && !name.StartsWith(':'))
            {
                request.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
            }
        }

        if (upgrading)
        {
            request.Headers.Connection.Add("Upgrade");
            foreach (var value in context.Request.Headers.Upgrade)
            {
                request.Headers.TryAddWithoutValidation("Upgrade", value);
            }
        }

        // SocketsHttpHandler hands back the raw connection, readable and writable, for a 101 answer.
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            if (response.StatusCode == HttpStatusCode.SwitchingProtocols && upgrading)
            {
                CopyHeaders(response.Headers, context.Response.Headers, skipConnection: true);
                var clientStream = await upgrade!.UpgradeAsync().ConfigureAwait(false);
                await PipeAsync(clientStream, body).ConfigureAwait(false);
                return;
            }

            if (refusal is not null && (int)response.StatusCode >= 400)
            {
                using var reader = new StreamReader(body);
                throw refusal((int)response.StatusCode, await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false));
            }

            context.Response.StatusCode = (int)response.StatusCode;
            CopyHeaders(response.Headers, context.Response.Headers, skipConnection: true);
            CopyHeaders(response.Content.Headers, context.Response.Headers, skipConnection: true);
            context.Response.Headers.ContentLength = null;
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                // Flushed piece by piece: a followed log is read while it is written.
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static void CopyHeaders(HttpHeaders from, IHeaderDictionary to, bool skipConnection)
    {
        foreach (var (name, values) in from)
        {
            if (skipConnection && NotForwarded.Contains(name) && !name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            to[name] = values.ToArray();
        }
    }

    /// <summary>How long a finished stream waits for the client to close its end.</summary>
    private static readonly TimeSpan ClientCloseWait = TimeSpan.FromSeconds(30);

    /// <summary>Copies both ways until either side closes, then closes both.</summary>
    private static async Task PipeAsync(Stream client, Stream backend)
    {
        using var done = new CancellationTokenSource();
        var up = CopyAsync(client, backend, done.Token);
        var down = CopyAsync(backend, client, done.Token);
        if (await Task.WhenAny(up, down).ConfigureAwait(false) == down)
        {
            // The backend is done and everything it sent is written. The client still reads it and
            // then closes; closing first, with its last frames unread, would reset the connection
            // and can drop what it has not read yet.
            await Task.WhenAny(up, Task.Delay(ClientCloseWait, CancellationToken.None)).ConfigureAwait(false);
        }

        await done.CancelAsync().ConfigureAwait(false);
        await client.DisposeAsync().ConfigureAwait(false);
        await backend.DisposeAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // One side went away: the other is closed with it, which is all a stream proxy can do.
        }
    }

    private static async Task CopyAsync(Stream from, Stream to, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            await to.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
