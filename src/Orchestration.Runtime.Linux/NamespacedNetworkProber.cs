using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Orchestration.Runtime.Linux;

/// <summary>
/// httpGet and tcpSocket probes from inside a network namespace. Pod IPs live on the bridge inside
/// containerd's namespace, so a socket opened in the node's namespace cannot reach them. A socket
/// belongs to the namespace of the thread that created it, so one dedicated thread enters the
/// namespace once (setns) and only creates sockets; connecting and talking happen on any thread.
/// Shared by the runtimes that run their daemon (and so every pod) in a namespace of their own.
/// </summary>
public sealed partial class NamespacedNetworkProber : INetworkProber, IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly string? _namespacePath;
    private readonly BlockingCollection<(AddressFamily Family, TaskCompletionSource<Socket> Result)> _requests = new();
    private readonly Lazy<Thread> _thread;
    private readonly HttpClient _http;

    /// <summary>A prober that connects from <paramref name="namespacePath"/> (<c>/var/run/netns/NAME</c>), or from this process's own namespace when null.</summary>
    public NamespacedNetworkProber(string? namespacePath)
    {
        _namespacePath = namespacePath;
        _thread = new Lazy<Thread>(StartThread, LazyThreadSafetyMode.ExecutionAndPublication);
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
        _requests.CompleteAdding();
        _http.Dispose();
    }

    private Task<Socket> CreateSocketAsync(AddressFamily family)
    {
        if (_namespacePath is null)
        {
            return Task.FromResult(new Socket(family, SocketType.Stream, ProtocolType.Tcp));
        }

        _ = _thread.Value;
        var result = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Add((family, result));
        return result.Task;
    }

    private Thread StartThread()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "netns sockets" };
        thread.Start();
        return thread;
    }

    private void Run()
    {
        Exception? failure = null;
        try
        {
            using var ns = File.OpenHandle(_namespacePath!, FileMode.Open, FileAccess.Read);
            if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
            {
                failure = new IOException($"cannot enter the network namespace {_namespacePath} (setns: errno {Marshal.GetLastPInvokeError()}); probes need root");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            failure = new IOException($"cannot open the network namespace {_namespacePath}: {ex.Message}", ex);
        }

        // This thread never leaves the namespace and runs nothing else: it ends when the prober is disposed.
        foreach (var (family, result) in _requests.GetConsumingEnumerable())
        {
            if (failure is not null)
            {
                result.SetException(failure);
                continue;
            }

            try
            {
                result.SetResult(new Socket(family, SocketType.Stream, ProtocolType.Tcp));
            }
            catch (SocketException ex)
            {
                result.SetException(ex);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
