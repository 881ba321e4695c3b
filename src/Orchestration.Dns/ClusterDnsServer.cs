using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Dns.Forwarding;
using Orchestration.Dns.Transport;

namespace Orchestration.Dns;

/// <summary>
/// The cluster DNS server: answers names of the cluster domain from a <see cref="ClusterDnsZone"/>
/// and forwards other names to the upstream resolvers (with a cache), over UDP and TCP on each
/// listen endpoint. UDP answers larger than the client takes are truncated (TC) so it retries over TCP.
/// </summary>
/// <remarks>
/// Every socket comes from the <see cref="IDnsSocketFactory"/>, so a caller can create them in the
/// network namespace that holds the listen addresses. <see cref="StartAsync"/> binds and starts
/// serving; <see cref="DisposeAsync"/> stops and waits for queries in progress.
/// </remarks>
public sealed partial class ClusterDnsServer : IAsyncDisposable
{
    private const int TcpBacklog = 512;
    private const int UdpReceiveBufferSize = 4 * 1024 * 1024;
    private const int FreePortAttempts = 20;

    private readonly ClusterDnsOptions _options;
    private readonly IDnsSocketFactory _socketFactory;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly UpstreamResolver? _upstream;
    private readonly DnsQueryHandler _handler;
    private readonly BackgroundWork _work = new();
    private readonly List<Socket> _sockets = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyList<IPEndPoint> _endPoints = [];
    private int _state;

    /// <summary>Creates the server from configured options (the host's container).</summary>
    public ClusterDnsServer(IOptions<ClusterDnsOptions> options, ClusterDnsZone zone, IDnsSocketFactory socketFactory, TimeProvider timeProvider, ILogger<ClusterDnsServer> logger)
        : this(options?.Value!, zone, socketFactory, timeProvider, logger)
    {
    }

    /// <summary>Creates the server; nothing is bound until <see cref="StartAsync"/>.</summary>
    /// <param name="options">Where to listen and where to forward; checked by <see cref="ClusterDnsOptionsValidator"/>.</param>
    /// <param name="zone">The cluster's records, fed by the caller from its informers.</param>
    /// <param name="socketFactory">Creates every socket; by default plain sockets in the caller's network namespace.</param>
    /// <param name="timeProvider">The clock of the cache, the upstream timeout and the TCP idle timeout.</param>
    /// <param name="logger">Where the server logs.</param>
    /// <exception cref="OptionsValidationException">The options are not valid.</exception>
    public ClusterDnsServer(ClusterDnsOptions options, ClusterDnsZone zone, IDnsSocketFactory? socketFactory = null, TimeProvider? timeProvider = null, ILogger<ClusterDnsServer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(zone);
        var validation = new ClusterDnsOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(ClusterDnsOptions), validation.Failures);
        }

        _options = options;
        Zone = zone;
        _socketFactory = socketFactory ?? DnsSocketFactory.Default;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        if (options.Upstreams.Count > 0)
        {
            var cache = options.CacheSize > 0 ? new UpstreamCache(options.CacheSize, options.MaxCacheTtl, _timeProvider) : null;
            _upstream = new UpstreamResolver(options.Upstreams, options.UpstreamTimeout, _socketFactory, cache, _timeProvider, _logger);
        }

        _handler = new DnsQueryHandler(zone, _upstream, options.MaxUdpPayloadSize, _logger);
    }

    /// <summary>The zone the server answers from.</summary>
    public ClusterDnsZone Zone { get; }

    /// <summary>The endpoints the server answers on (UDP and TCP on each), with the ports taken for port 0; empty before <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => _endPoints;

    /// <summary>
    /// Creates and binds the sockets (UDP and a TCP listener on each <see cref="ClusterDnsOptions.ListenEndPoints"/>
    /// entry, and the upstream sockets) and starts answering. Returns once every socket is bound.
    /// </summary>
    /// <exception cref="InvalidOperationException">An endpoint cannot be bound, or the server was started already.</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _state) == 2, this);
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The DNS server is started already");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var token = _stopping.Token;
        var bound = new List<IPEndPoint>();
        try
        {
            foreach (var endPoint in _options.ListenEndPoints)
            {
                var (udp, tcp) = Bind(endPoint);
                bound.Add((IPEndPoint)udp.LocalEndPoint!);
                var udpListener = new DnsUdpListener(udp, _handler, _work, _logger);
                for (var i = 0; i < _options.UdpReceivers; i++)
                {
                    _loops.Add(Task.Run(() => udpListener.ReceiveAsync(token), CancellationToken.None));
                }

                var tcpListener = new DnsTcpListener(tcp, _handler, _work, _options.MaxTcpConnections, _options.TcpIdleTimeout, _timeProvider, _logger);
                _loops.Add(Task.Run(() => tcpListener.AcceptAsync(token), CancellationToken.None));
            }

            _upstream?.Start();
        }
        catch
        {
            _stopping.Cancel();
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            throw;
        }

        _endPoints = bound;
        LogListening(Zone.Domain, string.Join(", ", bound), _options.Upstreams.Count == 0 ? "nowhere (other names get SERVFAIL)" : string.Join(", ", _options.Upstreams));
        return Task.CompletedTask;
    }

    /// <summary>Stops answering: closes the sockets and waits for the queries in progress.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        await Task.WhenAll(_loops).ConfigureAwait(false);
        await _work.WhenAll().ConfigureAwait(false);
        if (_upstream is not null)
        {
            await _upstream.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
        if (_endPoints.Count > 0)
        {
            LogStopped(string.Join(", ", _endPoints));
        }
    }

    /// <summary>A UDP socket and a TCP listener on one endpoint; port 0 takes a port free for both.</summary>
    private (Socket Udp, Socket Tcp) Bind(IPEndPoint endPoint)
    {
        for (var attempt = 1; ; attempt++)
        {
            Socket? udp = null;
            Socket? tcp = null;
            try
            {
                udp = Create(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                udp.Bind(endPoint);
                var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
                tcp = Create(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (!OperatingSystem.IsWindows())
                {
                    // Lets a restarted server listen again while connections of the last one linger in TIME_WAIT.
                    tcp.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                }

                tcp.Bind(new IPEndPoint(endPoint.Address, port));
                tcp.Listen(TcpBacklog);
                _sockets.Add(udp);
                _sockets.Add(tcp);
                return (udp, tcp);
            }
            catch (SocketException e)
            {
                udp?.Dispose();
                tcp?.Dispose();
                if (endPoint.Port == 0 && e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < FreePortAttempts)
                {
                    continue;
                }

                throw new InvalidOperationException(
                    $"The DNS server cannot listen on {endPoint} ({e.SocketErrorCode}: {e.Message}). Check that the address is assigned in the network namespace the sockets are created in and that no other server holds the port.", e);
            }
        }
    }

    private Socket Create(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        var socket = _socketFactory.Create(family, type, protocol, DnsSocketRole.Listener);
        if (family == AddressFamily.InterNetworkV6)
        {
            socket.DualMode = false;
        }

        if (type == SocketType.Dgram)
        {
            try
            {
                socket.ReceiveBufferSize = UdpReceiveBufferSize;
            }
            catch (SocketException)
            {
                // The kernel's limit stands: a smaller buffer drops bursts sooner, nothing worse.
            }
        }

        return socket;
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "Cluster DNS for {Domain} answering on {EndPoints}; other names go to {Upstreams}")]
    private partial void LogListening(string domain, string endPoints, string upstreams);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Cluster DNS on {EndPoints} stopped")]
    private partial void LogStopped(string endPoints);
}
