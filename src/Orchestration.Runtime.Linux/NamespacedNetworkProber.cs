using System.Net;
using System.Net.Sockets;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux;

/// <summary>
/// httpGet and tcpSocket probes from inside a network namespace. Pod IPs live on the bridge inside
/// containerd's namespace, so a socket opened in the node's namespace cannot reach them: the sockets
/// come from <see cref="NamespaceSockets"/>. Shared by the runtimes that run their daemon (and so
/// every pod) in a namespace of their own.
/// </summary>
public sealed class NamespacedNetworkProber : INetworkProber, IDisposable
{
    private readonly NamespaceSockets _sockets;
    private readonly HttpClient _http;

    /// <summary>A prober that connects from <paramref name="namespacePath"/> (<c>/var/run/netns/NAME</c>), or from this process's own namespace when null.</summary>
    public NamespacedNetworkProber(string? namespacePath)
    {
        _sockets = new NamespaceSockets(namespacePath);
        _http = new HttpClient(new SocketsHttpHandler
        {
            // Each probe checks that the app still accepts: no kept-alive connections.
            PooledConnectionLifetime = TimeSpan.Zero,
            AllowAutoRedirect = true,

            // kubelet does not verify the certificates of HTTPS probes either.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = await ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            },
        });
    }

    /// <inheritdoc />
    public async Task<ProbeResult> ProbeAsync(NetworkProbe probe, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probe);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var target = $"{probe.Host}:{probe.Port}";
        try
        {
            if (probe.HttpPath is null)
            {
                using var socket = await ConnectAsync(probe.Host, probe.Port, deadline.Token).ConfigureAwait(false);
                return new ProbeResult(true, "");
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, $"{probe.Scheme.ToLowerInvariant()}://{target}{probe.HttpPath}");
            foreach (var (name, value) in probe.Headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            return code is >= 200 and < 400 ? new ProbeResult(true, "") : new ProbeResult(false, $"HTTP probe failed with statuscode: {code}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, $"dial tcp {target}: i/o timeout");
        }
        catch (Exception ex) when (ex is SocketException or HttpRequestException)
        {
            return new ProbeResult(false, $"dial tcp {target}: {ex.Message}");
        }
    }

    /// <summary>A TCP connection to <paramref name="host"/> (an IP: pod IPs are never names) opened from the namespace.</summary>
    public async Task<Socket> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        var address = IPAddress.Parse(host);
        var socket = await CreateSocketAsync(address.AddressFamily).ConfigureAwait(false);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Ends the namespace thread and the HTTP client.</summary>
    public void Dispose()
    {
        _sockets.Dispose();
        _http.Dispose();
    }

    private Task<Socket> CreateSocketAsync(AddressFamily family) => _sockets.CreateAsync(family, SocketType.Stream, ProtocolType.Tcp);
}
