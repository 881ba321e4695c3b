using System.Net;
using System.Net.Sockets;
using DnsClient;

namespace Orchestration.Dns.Tests;

/// <summary>A cluster DNS server on 127.0.0.1 (a free port, UDP and TCP), and clients that ask only it.</summary>
internal sealed class DnsServerFixture : IAsyncDisposable
{
    private DnsServerFixture(ClusterDnsZone zone, ClusterDnsServer server)
    {
        Zone = zone;
        Server = server;
    }

    public ClusterDnsZone Zone { get; }

    public ClusterDnsServer Server { get; }

    public IPEndPoint EndPoint => Server.EndPoints[0];

    public static async Task<DnsServerFixture> StartAsync(Action<ClusterDnsOptions>? configure = null, TimeProvider? timeProvider = null, IDnsSocketFactory? socketFactory = null)
    {
        var options = new ClusterDnsOptions
        {
            ListenEndPoints = { new IPEndPoint(IPAddress.Loopback, 0) },
            ServiceCidrs = { IPNetwork.Parse("10.96.0.0/12") },
            PodCidrs = { IPNetwork.Parse("10.244.0.0/16") },
            UdpReceivers = 2,
        };
        configure?.Invoke(options);
        var zone = new ClusterDnsZone(options, timeProvider);
        var server = new ClusterDnsServer(options, zone, socketFactory, timeProvider);
        await server.StartAsync();
        return new DnsServerFixture(zone, server);
    }

    /// <summary>A client of this server only (never the machine's resolvers): no cache, no retries, a bounded timeout; a buffer of 512 sends no EDNS.</summary>
    public LookupClient Client(bool tcpOnly = false, bool tcpFallback = true, int bufferSize = 4096) => new(new LookupClientOptions(EndPoint)
    {
        AutoResolveNameServers = false,
        UseCache = false,
        Retries = 0,
        Timeout = TimeSpan.FromSeconds(5),
        UseTcpOnly = tcpOnly,
        UseTcpFallback = tcpFallback,
        ExtendedDnsBufferSize = bufferSize,
        ThrowDnsErrors = false,
        ContinueOnDnsError = false,
        ContinueOnEmptyResponse = false,
        UseRandomNameServer = false,
    });

    /// <summary>Sends raw bytes over UDP and returns the first datagram that comes back (the test's bound: 10 seconds).</summary>
    public async Task<byte[]> ExchangeUdpAsync(Socket socket, byte[] query)
    {
        await socket.SendToAsync(query, SocketFlags.None, EndPoint);
        var buffer = new byte[65535];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token);
        return buffer[..received.ReceivedBytes];
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
