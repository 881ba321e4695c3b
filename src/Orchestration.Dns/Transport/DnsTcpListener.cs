using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Orchestration.Dns.Wire;

namespace Orchestration.Dns.Transport;

/// <summary>
/// Answers queries over TCP (RFC 7766): each message framed by a two-byte length, several per
/// connection, one after the other. Connections beyond the limit are closed at once, as are those
/// idle too long and those that send a message longer than a query can be.
/// </summary>
internal sealed partial class DnsTcpListener(Socket listener, DnsQueryHandler handler, BackgroundWork work, int maxConnections, TimeSpan idleTimeout, TimeProvider timeProvider, ILogger logger)
{
    private int _connections;

    public async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
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

                LogAcceptFailed(e.SocketErrorCode);
                continue;
            }

            if (Interlocked.Increment(ref _connections) > maxConnections)
            {
                Interlocked.Decrement(ref _connections);
                LogConnectionRefused(maxConnections);
                client.Dispose();
                continue;
            }

            work.Track(ServeAsync(client, cancellationToken));
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(DnsWire.MaxQuerySize);
        try
        {
            client.NoDelay = true;
            while (!cancellationToken.IsCancellationRequested)
            {
                int length;
                using (var idle = new CancellationTokenSource(idleTimeout, timeProvider))
                using (var linked = CancellationTokenSource.CreateLinkedTokenSource(idle.Token, cancellationToken))
                {
                    if (!await ReadExactlyAsync(client, buffer.AsMemory(0, 2), linked.Token).ConfigureAwait(false))
                    {
                        return;
                    }

                    length = BinaryPrimitives.ReadUInt16BigEndian(buffer);
                    if (length == 0 || length > DnsWire.MaxQuerySize)
                    {
                        LogMessageRefused(length);
                        return;
                    }

                    if (!await ReadExactlyAsync(client, buffer.AsMemory(0, length), linked.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                }

                var response = await handler.HandleAsync(new ArraySegment<byte>(buffer, 0, length), udp: false, cancellationToken).ConfigureAwait(false);
                if (response is null)
                {
                    return;
                }

                var frame = response.ToArraySegment(true);
                var sent = 0;
                while (sent < frame.Count)
                {
                    sent += await client.SendAsync(frame.AsMemory(sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Idle, stopping, or the client went away: the connection ends either way.
        }
        finally
        {
            client.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Decrement(ref _connections);
        }
    }

    /// <summary>Fills the buffer; false when the client closed the connection first.</summary>
    private static async ValueTask<bool> ReadExactlyAsync(Socket client, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var received = await client.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                return false;
            }

            buffer = buffer[received..];
        }

        return true;
    }

    [LoggerMessage(EventId = 5050, Level = LogLevel.Warning, Message = "TCP accept failed ({Error}); accepting on")]
    private partial void LogAcceptFailed(SocketError error);

    [LoggerMessage(EventId = 5051, Level = LogLevel.Debug, Message = "TCP connection closed at once: {MaxConnections} connections are open already")]
    private partial void LogConnectionRefused(int maxConnections);

    [LoggerMessage(EventId = 5052, Level = LogLevel.Debug, Message = "TCP connection closed: a message of {Length} bytes is not a query")]
    private partial void LogMessageRefused(int length);
}
