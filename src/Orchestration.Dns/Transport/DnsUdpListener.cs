using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Orchestration.Dns.Wire;

namespace Orchestration.Dns.Transport;

/// <summary>
/// Answers the queries that reach one UDP socket. Several receive loops share the socket, each with
/// its own buffer and address, so a query in one does not hold up the others; zone answers are sent
/// from the loop, forwarded ones when the upstream answers.
/// </summary>
internal sealed partial class DnsUdpListener(Socket socket, DnsQueryHandler handler, BackgroundWork work, ILogger logger)
{
    public async Task ReceiveAsync(CancellationToken cancellationToken)
    {
        // One more byte than a query may have: a datagram that fills it was cut by the kernel.
        var buffer = GC.AllocateUninitializedArray<byte>(DnsWire.MaxQuerySize + 1, pinned: true);
        var address = new SocketAddress(socket.AddressFamily);
        while (!cancellationToken.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, address, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (cancellationToken.IsCancellationRequested || e.SocketErrorCode is SocketError.OperationAborted or SocketError.Shutdown)
                {
                    return;
                }

                // A datagram too long, or an ICMP error reported on the socket: the next one is fine.
                LogReceiveFailed(e.SocketErrorCode);
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
                    await SendAsync(package, address, cancellationToken).ConfigureAwait(false);
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
                await SendAsync(package, client, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private async ValueTask SendAsync(DnsRawPackage package, SocketAddress client, CancellationToken cancellationToken)
    {
        try
        {
            await socket.SendToAsync(package.ToArraySegment(false), SocketFlags.None, client, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            LogSendFailed(e.SocketErrorCode);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    [LoggerMessage(EventId = 5040, Level = LogLevel.Debug, Message = "UDP receive failed ({Error}); receiving on")]
    private partial void LogReceiveFailed(SocketError error);

    [LoggerMessage(EventId = 5041, Level = LogLevel.Debug, Message = "UDP answer not sent ({Error})")]
    private partial void LogSendFailed(SocketError error);
}
