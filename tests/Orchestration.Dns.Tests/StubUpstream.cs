using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net.Dns;
using Orchestration.Dns.Wire;

namespace Orchestration.Dns.Tests;

/// <summary>
/// An upstream resolver the test starts on 127.0.0.1 (UDP and TCP on one free port): it answers each
/// query with what <see cref="Answer"/> makes of it (null: no answer at all) and counts the queries
/// it received per transport.
/// </summary>
internal sealed class StubUpstream : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _udpLoop;
    private readonly Task _tcpLoop;
    private int _udpQueries;
    private int _tcpQueries;

    public StubUpstream(Func<DnsMessage, DnsMessage?> answer)
    {
        Answer = answer;
        (_udp, _tcp) = BindBoth();
        EndPoint = (IPEndPoint)_udp.LocalEndPoint!;
        _tcp.Listen(16);
        _udpLoop = Task.Run(ServeUdpAsync);
        _tcpLoop = Task.Run(ServeTcpAsync);
    }

    public Func<DnsMessage, DnsMessage?> Answer { get; set; }

    public IPEndPoint EndPoint { get; }

    public int UdpQueries => Volatile.Read(ref _udpQueries);

    public int TcpQueries => Volatile.Read(ref _tcpQueries);

    /// <summary>The questions received, in order.</summary>
    public ConcurrentQueue<DnsQuestion> Questions { get; } = new();

    /// <summary>When set, UDP answers carry TC and no records, so the asker must come back over TCP.</summary>
    public bool TruncateUdp { get; set; }

    /// <summary>An answer with the given A records for the question's name.</summary>
    public static DnsMessage ARecords(DnsMessage query, int ttl, params string[] addresses)
    {
        var response = Response(query, ReturnCode.NoError);
        foreach (var address in addresses)
        {
            response.AnswerRecords.Add(new ARecord(query.Questions[0].Name, ttl, IPAddress.Parse(address)));
        }

        return response;
    }

    public static DnsMessage Response(DnsMessage query, ReturnCode code)
    {
        var response = new DnsMessage { TransactionID = query.TransactionID, IsQuery = false, IsRecursionDesired = true, IsRecursionAllowed = true, ReturnCode = code };
        response.Questions.AddRange(query.Questions);
        return response;
    }

    /// <summary>A UDP socket on a free loopback port and a TCP socket on the same port (another try when TCP has it taken).</summary>
    private static (Socket Udp, Socket Tcp) BindBoth()
    {
        for (var attempt = 1; ; attempt++)
        {
            var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                tcp.Bind(udp.LocalEndPoint!);
                return (udp, tcp);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < 20)
            {
                udp.Dispose();
                tcp.Dispose();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _udp.Dispose();
        _tcp.Dispose();
        await Task.WhenAll(_udpLoop, _tcpLoop);
        _stop.Dispose();
    }

    private async Task ServeUdpAsync()
    {
        var buffer = new byte[65535];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var query = DnsMessage.Parse(buffer.AsSpan(0, received.ReceivedBytes).ToArray());
            Interlocked.Increment(ref _udpQueries);
            Questions.Enqueue(query.Questions[0]);
            var response = Answer(query);
            if (response is null)
            {
                continue;
            }

            if (TruncateUdp)
            {
                response.AnswerRecords.Clear();
                response.IsTruncated = true;
            }

            await _udp.SendToAsync(DnsWire.Encode(response).ToArraySegment(false), SocketFlags.None, received.RemoteEndPoint);
        }
    }

    private async Task ServeTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _tcp.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            using (client)
            {
                try
                {
                    var prefix = new byte[2];
                    await client.ReceiveAsync(prefix, SocketFlags.None, _stop.Token);
                    var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
                    var read = 0;
                    while (read < message.Length)
                    {
                        read += await client.ReceiveAsync(message.AsMemory(read), SocketFlags.None, _stop.Token);
                    }

                    var query = DnsMessage.Parse(message);
                    Interlocked.Increment(ref _tcpQueries);
                    Questions.Enqueue(query.Questions[0]);
                    if (Answer(query) is { } response)
                    {
                        await client.SendAsync(DnsWire.Encode(response).ToArraySegment(true), SocketFlags.None, _stop.Token);
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                }
            }
        }
    }
}
