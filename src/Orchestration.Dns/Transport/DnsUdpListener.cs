using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Orchestration.Dns.Wire;

namespace Orchestration.Dns.Transport;

/// <summary>
/// Answers the queries that reach one UDP socket. Several receive loops share the socket, each on a
/// thread of its own blocked in the kernel's receive, with its own buffer and address, so a query in
/// one does not hold up the others; zone answers are sent from the loop, forwarded ones when the
/// upstream answers.
/// </summary>
/// <remarks>
/// Blocking receives on dedicated threads rather than <c>ReceiveFromAsync</c>: the kernel wakes the
/// thread that answers, where an asynchronous receive goes through the socket engine's epoll thread
/// and a thread-pool hop per datagram, and the pool's threads spin between datagrams. Measured with
/// dnsperf on 2 cores (benchmarks/Orchestration.Dns.Benchmarks), that cost a whole core at 10,000
/// queries/s. The socket only ever sees synchronous calls, so it stays in blocking mode.
/// </remarks>
internal sealed partial class DnsUdpListener(Socket socket, DnsQueryHandler handler, BackgroundWork work, ILogger logger)
{
    /// <summary>How long a receive blocks before the loop looks at its cancellation token again (closing the socket also ends it, on Linux at once).</summary>
    private static readonly TimeSpan ReceivePoll = TimeSpan.FromSeconds(1);

    /// <summary>Starts one receive loop on a thread of its own; the task ends when the loop does (cancelled, or the socket closed).</summary>
    public Task ReceiveAsync(CancellationToken cancellationToken)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Receive(cancellationToken);
                ended.SetResult();
            }
            catch (Exception e)
            {
                ended.SetException(e);
            }
        })
        {
            IsBackground = true,
            Name = "Cluster DNS UDP",
        };
        thread.UnsafeStart();
        return ended.Task;
    }

    private void Receive(CancellationToken cancellationToken)
    {
        // One more byte than a query may have: a datagram that fills it was cut by the kernel.
        var buffer = GC.AllocateUninitializedArray<byte>(DnsWire.MaxQuerySize + 1, pinned: true);
        var address = new SocketAddress(socket.AddressFamily);
        try
        {
            socket.ReceiveTimeout = (int)ReceivePoll.TotalMilliseconds;
        }
        catch (Exception e) when (e is ObjectDisposedException or SocketException)
        {
            return;
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            int received;
            try
            {
                received = socket.ReceiveFrom(buffer, SocketFlags.None, address);
            }
            catch (Exception e) when (e is ObjectDisposedException || cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                if (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Shutdown or SocketError.Interrupted)
                {
                    return;
                }

                // The poll timeout (nothing came), a datagram too long, or an ICMP error reported on the
                // socket: the next one is fine.
                if (e.SocketErrorCode is not (SocketError.TimedOut or SocketError.WouldBlock))
                {
                    LogReceiveFailed(e.SocketErrorCode);
                }

                continue;
            }

            if (received > DnsWire.MaxQuerySize)
            {
                continue;
            }

            var response = handler.HandleAsync(new ArraySegment<byte>(buffer, 0, received), udp: true, cancellationToken);
            if (response.IsCompletedSuccessfully)
            {
                if (response.Result is { } package)
                {
                    Send(package, address, cancellationToken);
                }
            }
            else
            {
                var client = new SocketAddress(address.Family, address.Size);
                address.Buffer.CopyTo(client.Buffer);
                work.Track(SendWhenAnsweredAsync(response, client, cancellationToken));
            }
        }
    }

    private async Task SendWhenAnsweredAsync(ValueTask<DnsRawPackage?> response, SocketAddress client, CancellationToken cancellationToken)
    {
        try
        {
            if (await response.ConfigureAwait(false) is { } package)
            {
                Send(package, client, cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <remarks>
    /// Synchronous: a datagram send does not wait unless the socket's send buffer is full, and then
    /// waiting is the backpressure wanted. It also keeps clear of <c>Socket.SendToAsync</c> with a
    /// <see cref="SocketAddress"/>, which under concurrent sends on one socket (the receive loops
    /// share it) was seen throwing NullReferenceException from inside .NET 10 under load, ending the
    /// loop that sent.
    /// </remarks>
    private void Send(DnsRawPackage package, SocketAddress client, CancellationToken cancellationToken)
    {
        try
        {
            socket.SendTo(package.ToArraySegment(false), SocketFlags.None, client);
        }
        catch (Exception e) when (e is ObjectDisposedException || cancellationToken.IsCancellationRequested)
        {
            // Stopping: the socket was closed under the send.
        }
        catch (SocketException e)
        {
            LogSendFailed(e.SocketErrorCode);
        }
    }

    [LoggerMessage(EventId = 5040, Level = LogLevel.Debug, Message = "UDP receive failed ({Error}); receiving on")]
    private partial void LogReceiveFailed(SocketError error);

    [LoggerMessage(EventId = 5041, Level = LogLevel.Debug, Message = "UDP answer not sent ({Error})")]
    private partial void LogSendFailed(SocketError error);
}
