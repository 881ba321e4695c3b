using System.Net.Sockets;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// The network prober of real runtimes: a tcpSocket probe passes when a connection opens, an httpGet
/// probe when the answer's status is 200 to 399, as kubelet's are.
/// </summary>
public sealed class SocketNetworkProber : INetworkProber, IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        // Probes must not ride on a kept-alive connection: each one checks that the app still accepts.
        PooledConnectionLifetime = TimeSpan.Zero,
        AllowAutoRedirect = true,

        // kubelet does not verify the certificates of HTTPS probes either.
        SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
    });

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
                using var socket = new TcpClient();
                await socket.ConnectAsync(probe.Host, probe.Port, deadline.Token).ConfigureAwait(false);
                return new ProbeResult(true, "");
            }

            var url = $"{probe.Scheme.ToLowerInvariant()}://{target}{probe.HttpPath}";
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            foreach (var (name, value) in probe.Headers)
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }

            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            var code = (int)response.StatusCode;
            return code is >= 200 and < 400
                ? new ProbeResult(true, "")
                : new ProbeResult(false, $"HTTP probe failed with statuscode: {code}");
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

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
