using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Orchestration.Networking;

/// <summary>
/// A network proxy in this process, for nodes without nftables: it listens on each Service port's
/// virtual addresses (cluster, external and load-balancer IPs on the Service's port, every address on
/// the node port), TCP and UDP, and relays each connection or datagram flow to one of the port's
/// endpoints: round robin, or the endpoint a client's address went to before under ClientIP affinity.
/// A Service port without endpoints has no listener, so a connection to it is refused at once. A sync
/// changes the endpoints of listeners in place and opens or closes only the listeners that changed;
/// open connections keep going. They end with the proxy: unlike the nftables proxy, a restart drops them.
/// </summary>
public sealed partial class UserspaceProxy : INetworkProxy, IAsyncDisposable
{
    private readonly IUserspaceProxyNetwork _network;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<ListenKey, Listener> _listeners = [];
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>A proxy in <paramref name="network"/>.</summary>
    public UserspaceProxy(IUserspaceProxyNetwork network, TimeProvider timeProvider, ILogger<UserspaceProxy> logger)
    {
        ArgumentNullException.ThrowIfNull(network);
        _network = network;
        _time = timeProvider;
        _logger = logger;
    }

    /// <summary>How long a UDP flow is kept without a datagram in either direction.</summary>
    public TimeSpan UdpIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How many addresses and ports the proxy listens on.</summary>
    public int ListenerCount => _listeners.Count;

    /// <inheritdoc />
    public async Task SyncAsync(ServiceTable table, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var wanted = new Dictionary<ListenKey, Target>();
            foreach (var port in table.Ports.Values)
            {
                var protocol = port.Name.Protocol;
                if (protocol == ServiceProtocol.Sctp)
                {
                    continue;
                }

                if (port.ClusterEndpoints.Count > 0)
                {
                    foreach (var ip in port.ClusterIPs)
                    {
                        wanted.TryAdd(new ListenKey(protocol, ip, port.Port), new Target(port.ClusterEndpoints, port.StickyFor));
                    }
                }

                if (port.ExternalEndpoints.Count > 0)
                {
                    foreach (var ip in port.ExternalIPs.Concat(port.LoadBalancerIPs))
                    {
                        wanted.TryAdd(new ListenKey(protocol, ip, port.Port), new Target(port.ExternalEndpoints, port.StickyFor));
                    }

                    if (port.NodePort is { } nodePort)
                    {
                        wanted.TryAdd(new ListenKey(protocol, IPAddress.Any, nodePort), new Target(port.ExternalEndpoints, port.StickyFor));
                    }
                }
            }

            // Every virtual address is the node's, with endpoints or without: one without a listener then
            // refuses connections at once instead of letting them wander off.
            var addresses = table.Ports.Values.SelectMany(p => p.ClusterIPs.Concat(p.ExternalIPs).Concat(p.LoadBalancerIPs)).Distinct().ToList();
            await _network.AcceptAddressesAsync(addresses, cancellationToken).ConfigureAwait(false);
            foreach (var key in _listeners.Keys.Where(k => !wanted.ContainsKey(k)).ToList())
            {
                _listeners[key].Dispose();
                _listeners.Remove(key);
            }

            var failures = new List<string>();
            foreach (var (key, target) in wanted)
            {
                if (_listeners.TryGetValue(key, out var listener))
                {
                    listener.Retarget(target);
                    continue;
                }

                try
                {
                    _listeners[key] = key.Protocol == ServiceProtocol.Tcp
                        ? new TcpListener(this, key, target)
                        : new UdpListener(this, key, target);
                }
                catch (SocketException ex)
                {
                    failures.Add($"{key}: {ex.Message}");
                }
            }

            if (failures.Count > 0)
            {
                throw new NetworkProxyException($"the userspace proxy could not listen on {failures.Count} address(es): {string.Join("; ", failures.Take(5))}");
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task CleanUpAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var listener in _listeners.Values)
            {
                listener.Dispose();
            }

            _listeners.Clear();
            await _network.AcceptAddressesAsync([], cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes every listener and open connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var listener in _listeners.Values)
        {
            listener.Dispose();
        }

        _listeners.Clear();
        _stopping.Dispose();
        _gate.Dispose();
    }

    private readonly record struct ListenKey(ServiceProtocol Protocol, IPAddress Address, int Port)
    {
        public override string ToString() => $"{Protocol.ToString().ToLowerInvariant()} {Address}:{Port}";
    }

    /// <summary>Where a listener's traffic goes, replaced whole by a sync.</summary>
    private sealed class Target(IReadOnlyList<ServiceEndpoint> endpoints, TimeSpan? sticky)
    {
        private readonly ConcurrentDictionary<IPAddress, (ServiceEndpoint Endpoint, long Until)> _affinity = new();
        private int _next = -1;

        public IReadOnlyList<ServiceEndpoint> Endpoints { get; } = endpoints;

        public TimeSpan? Sticky { get; } = sticky;

        /// <summary>The endpoints to try for a client, the chosen one first.</summary>
        public IEnumerable<ServiceEndpoint> Choose(IPAddress client, TimeProvider time)
        {
            var now = time.GetTimestamp();
            if (Sticky is { } sticky && _affinity.TryGetValue(client, out var held) && held.Until > now && Endpoints.Contains(held.Endpoint))
            {
                _affinity[client] = (held.Endpoint, now + (long)(sticky.TotalSeconds * time.TimestampFrequency));
                yield return held.Endpoint;
                yield break;
            }

            var start = (int)((uint)Interlocked.Increment(ref _next) % (uint)Endpoints.Count);
            for (var i = 0; i < Endpoints.Count; i++)
            {
                var endpoint = Endpoints[(start + i) % Endpoints.Count];
                if (Sticky is { } hold)
                {
                    _affinity[client] = (endpoint, now + (long)(hold.TotalSeconds * time.TimestampFrequency));
                }

                yield return endpoint;
            }
        }
    }

    /// <summary>A socket bound to one virtual address and port, relaying to the current target until disposed.</summary>
    private abstract class Listener : IDisposable
    {
        protected Listener(UserspaceProxy proxy, ListenKey key, Target target, SocketType type, ProtocolType protocol)
        {
            Proxy = proxy;
            Key = key;
            _target = target;
            Socket = proxy._network.CreateSocket(key.Address.AddressFamily, type, protocol);
            try
            {
                if (type == SocketType.Stream)
                {
                    Socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                }

                Socket.Bind(new IPEndPoint(key.Address, key.Port));
                if (type == SocketType.Stream)
                {
                    Socket.Listen(512);
                }
            }
            catch
            {
                Socket.Dispose();
                throw;
            }

            Closed = CancellationTokenSource.CreateLinkedTokenSource(proxy._stopping.Token);
        }

        protected volatile Target? _target;

        public ListenKey Key { get; }

        protected UserspaceProxy Proxy { get; }

        protected Socket Socket { get; }

        protected CancellationTokenSource Closed { get; }

        public void Retarget(Target target) => _target = target;

        public virtual void Dispose()
        {
            Closed.Cancel();
            Socket.Dispose();
            Closed.Dispose();
        }
    }

    private sealed class TcpListener : Listener
    {
        public TcpListener(UserspaceProxy proxy, ListenKey key, Target target)
            : base(proxy, key, target, SocketType.Stream, ProtocolType.Tcp)
        {
            _ = AcceptAsync();
        }

        private async Task AcceptAsync()
        {
            var token = Closed.Token;
            while (!token.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await Socket.AcceptAsync(token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = RelayAsync(client, Proxy._stopping.Token);
            }
        }

        private async Task RelayAsync(Socket client, CancellationToken stopping)
        {
            using (client)
            {
                var target = _target!;
                var from = ((IPEndPoint)client.RemoteEndPoint!).Address;
                Socket? backend = null;
                foreach (var endpoint in target.Choose(from, Proxy._time))
                {
                    var candidate = Proxy._network.CreateSocket(endpoint.Address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                    try
                    {
                        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                        deadline.CancelAfter(TimeSpan.FromSeconds(5));
                        await candidate.ConnectAsync(new IPEndPoint(endpoint.Address, endpoint.Port), deadline.Token).ConfigureAwait(false);
                        backend = candidate;
                        break;
                    }
                    catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                    {
                        candidate.Dispose();
                        Proxy.LogEndpointUnreachable(Key.ToString(), endpoint.ToString(), ex.Message);
                    }
                }

                if (backend is null)
                {
                    return;
                }

                using (backend)
                {
                    await TcpRelay.PipeAsync(client, backend, stopping).ConfigureAwait(false);
                }
            }
        }
    }

    private sealed class UdpListener : Listener
    {
        private readonly ConcurrentDictionary<IPEndPoint, (Socket Backend, long LastSeen)> _flows = new();

        public UdpListener(UserspaceProxy proxy, ListenKey key, Target target)
            : base(proxy, key, target, SocketType.Dgram, ProtocolType.Udp)
        {
            _ = ReceiveAsync();
        }

        public override void Dispose()
        {
            foreach (var flow in _flows.Values)
            {
                flow.Backend.Dispose();
            }

            _flows.Clear();
            base.Dispose();
        }

        private async Task ReceiveAsync()
        {
            var token = Closed.Token;
            var buffer = new byte[65536];
            while (!token.IsCancellationRequested)
            {
                SocketReceiveFromResult received;
                try
                {
                    received = await Socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(Key.Address.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0), token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException)
                {
                    // An ICMP error from an earlier send to a client: keep serving the others.
                    continue;
                }

                var client = (IPEndPoint)received.RemoteEndPoint;
                var backend = FlowFor(client, token);
                if (backend is null)
                {
                    continue;
                }

                try
                {
                    await backend.SendAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None, token).ConfigureAwait(false);
                }
                catch (SocketException)
                {
                    Forget(client);
                }
            }
        }

        private Socket? FlowFor(IPEndPoint client, CancellationToken token)
        {
            var now = Proxy._time.GetTimestamp();
            if (_flows.TryGetValue(client, out var flow))
            {
                _flows[client] = (flow.Backend, now);
                return flow.Backend;
            }

            ExpireIdle(now);
            var endpoint = _target!.Choose(client.Address, Proxy._time).First();
            var backend = Proxy._network.CreateSocket(endpoint.Address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                backend.Connect(new IPEndPoint(endpoint.Address, endpoint.Port));
            }
            catch (SocketException)
            {
                backend.Dispose();
                return null;
            }

            _flows[client] = (backend, now);
            _ = ReturnAsync(client, backend, token);
            return backend;
        }

        private async Task ReturnAsync(IPEndPoint client, Socket backend, CancellationToken token)
        {
            var buffer = new byte[65536];
            while (!token.IsCancellationRequested)
            {
                try
                {
                    var read = await backend.ReceiveAsync(buffer, SocketFlags.None, token).ConfigureAwait(false);
                    _flows[client] = (backend, Proxy._time.GetTimestamp());
                    await Socket.SendToAsync(buffer.AsMemory(0, read), SocketFlags.None, client, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
                {
                    return;
                }
                catch (SocketException)
                {
                    // The endpoint refused (ICMP): this flow is done; the next datagram picks again.
                    Forget(client);
                    return;
                }
            }
        }

        private void ExpireIdle(long now)
        {
            var idle = (long)(Proxy.UdpIdleTimeout.TotalSeconds * Proxy._time.TimestampFrequency);
            foreach (var (client, flow) in _flows)
            {
                if (now - flow.LastSeen > idle)
                {
                    Forget(client);
                }
            }
        }

        private void Forget(IPEndPoint client)
        {
            if (_flows.TryRemove(client, out var flow))
            {
                flow.Backend.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 3710, Level = LogLevel.Debug, Message = "Userspace proxy {Listener}: endpoint {Endpoint} did not answer ({Reason}); trying the next")]
    private partial void LogEndpointUnreachable(string listener, string endpoint, string reason);
}
