using System.Net;
using System.Net.Sockets;
using System.Text;
using FluentAssertions;
using Orchestration.Networking;
using Xunit;

namespace Orchestration.TestKit.Conformance;

/// <summary>
/// What every <see cref="INetworkProxy"/> must do: the nftables and userspace proxies run these same
/// tests. Backends are small TCP and UDP servers that answer with their own name, listening on
/// <see cref="EndpointAddresses"/> inside the network the subclass provides (a network namespace it
/// created); clients connect from <see cref="ClientAddress"/> in that network, to virtual addresses
/// from <see cref="ServiceAddress"/>. Every wait is bounded.
/// </summary>
public abstract class NetworkProxyConformanceTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _backends = [];
    private readonly CancellationTokenSource _stop = new();

    /// <summary>The proxy under test.</summary>
    protected abstract INetworkProxy Proxy { get; }

    /// <summary>Addresses in the test network where backends can listen (at least three).</summary>
    protected abstract IReadOnlyList<IPAddress> EndpointAddresses { get; }

    /// <summary>The address clients connect from (not an endpoint's).</summary>
    protected abstract IPAddress ClientAddress { get; }

    /// <summary>An address of the node that node ports are served on.</summary>
    protected abstract IPAddress NodeAddress { get; }

    /// <summary>The <paramref name="index"/>th virtual (cluster) IP tests may give a Service.</summary>
    protected abstract IPAddress ServiceAddress(int index);

    /// <summary>A socket in the test network (a namespace is entered by the thread that creates it).</summary>
    protected abstract Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol);

    /// <summary>How long a connection may take before it counts as not served.</summary>
    protected virtual TimeSpan ConnectTimeout => TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        await Proxy.CleanUpAsync(CancellationToken.None);
        foreach (var backend in _backends)
        {
            await backend.DisposeAsync();
        }

        _stop.Dispose();
    }

    [Fact]
    public async Task A_cluster_ip_reaches_every_endpoint_of_its_service()
    {
        var backends = Enumerable.Range(0, 3).Select(i => StartTcpBackend($"web-{i}", EndpointAddresses[i], 8080)).ToList();
        await Proxy.SyncAsync(Table(Port("web", ServiceAddress(1), 80, endpoints: backends)), CancellationToken.None);

        var seen = new HashSet<string>();
        for (var i = 0; i < 60 && seen.Count < 3; i++)
        {
            seen.Add(await AskTcpAsync(ServiceAddress(1), 80));
        }

        seen.Should().BeEquivalentTo(["web-0", "web-1", "web-2"], "connections to the cluster IP are spread over every endpoint");
    }

    [Fact]
    public async Task Each_port_of_a_service_goes_to_its_own_target_port()
    {
        var http = StartTcpBackend("http", EndpointAddresses[0], 8080);
        var admin = StartTcpBackend("admin", EndpointAddresses[0], 9090);
        await Proxy.SyncAsync(
            Table(
                Port("multi", ServiceAddress(2), 80, endpoints: [http], portName: "http"),
                Port("multi", ServiceAddress(2), 90, endpoints: [admin], portName: "admin")),
            CancellationToken.None);

        (await AskTcpAsync(ServiceAddress(2), 80)).Should().Be("http");
        (await AskTcpAsync(ServiceAddress(2), 90)).Should().Be("admin");
    }

    [Fact]
    public async Task Endpoints_of_one_port_may_serve_on_different_target_ports()
    {
        // A named targetPort resolves per pod: the table carries each endpoint's own port.
        var first = StartTcpBackend("on-8080", EndpointAddresses[0], 8080);
        var second = StartTcpBackend("on-8081", EndpointAddresses[1], 8081);
        await Proxy.SyncAsync(Table(Port("named", ServiceAddress(3), 80, endpoints: [first, second])), CancellationToken.None);

        var seen = new HashSet<string>();
        for (var i = 0; i < 40 && seen.Count < 2; i++)
        {
            seen.Add(await AskTcpAsync(ServiceAddress(3), 80));
        }

        seen.Should().BeEquivalentTo(["on-8080", "on-8081"]);
    }

    [Fact]
    public async Task A_udp_service_answers()
    {
        var backend = StartUdpBackend("dns-ish", EndpointAddresses[0], 5353);
        await Proxy.SyncAsync(Table(Port("udp", ServiceAddress(4), 53, endpoints: [backend], protocol: ServiceProtocol.Udp)), CancellationToken.None);

        (await AskUdpAsync(ServiceAddress(4), 53)).Should().Be("dns-ish");
    }

    [Fact]
    public async Task A_service_without_endpoints_refuses_connections_at_once()
    {
        await Proxy.SyncAsync(Table(Port("empty", ServiceAddress(5), 80, endpoints: [])), CancellationToken.None);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var connect = () => AskTcpAsync(ServiceAddress(5), 80);

        (await connect.Should().ThrowAsync<SocketException>()).Which.SocketErrorCode.Should().Be(SocketError.ConnectionRefused);
        started.Elapsed.Should().BeLessThan(ConnectTimeout, "a Service with no endpoint is refused, not left to time out");
    }

    [Fact]
    public async Task A_removed_endpoint_gets_no_new_connections_and_an_added_one_does()
    {
        var one = StartTcpBackend("one", EndpointAddresses[0], 8080);
        var two = StartTcpBackend("two", EndpointAddresses[1], 8080);
        await Proxy.SyncAsync(Table(Port("moving", ServiceAddress(6), 80, endpoints: [one])), CancellationToken.None);
        (await AskTcpAsync(ServiceAddress(6), 80)).Should().Be("one");

        await Proxy.SyncAsync(Table(Port("moving", ServiceAddress(6), 80, endpoints: [two])), CancellationToken.None);

        for (var i = 0; i < 10; i++)
        {
            (await AskTcpAsync(ServiceAddress(6), 80)).Should().Be("two");
        }
    }

    [Fact]
    public async Task A_service_that_loses_its_last_endpoint_refuses_and_serves_again_when_one_returns()
    {
        var backend = StartTcpBackend("back", EndpointAddresses[0], 8080);
        var served = Table(Port("flap", ServiceAddress(7), 80, endpoints: [backend]));
        await Proxy.SyncAsync(served, CancellationToken.None);
        (await AskTcpAsync(ServiceAddress(7), 80)).Should().Be("back");

        await Proxy.SyncAsync(Table(Port("flap", ServiceAddress(7), 80, endpoints: [])), CancellationToken.None);
        var refused = () => AskTcpAsync(ServiceAddress(7), 80);
        (await refused.Should().ThrowAsync<SocketException>()).Which.SocketErrorCode.Should().Be(SocketError.ConnectionRefused);

        await Proxy.SyncAsync(served, CancellationToken.None);
        (await AskTcpAsync(ServiceAddress(7), 80)).Should().Be("back");
    }

    [Fact]
    public async Task A_removed_service_no_longer_reaches_its_endpoints()
    {
        var backend = StartTcpBackend("gone", EndpointAddresses[0], 8080);
        await Proxy.SyncAsync(Table(Port("gone", ServiceAddress(8), 80, endpoints: [backend])), CancellationToken.None);
        (await AskTcpAsync(ServiceAddress(8), 80)).Should().Be("gone");

        await Proxy.SyncAsync(ServiceTable.Empty, CancellationToken.None);

        var reached = async () => await AskTcpAsync(ServiceAddress(8), 80);
        await reached.Should().ThrowAsync<Exception>("the Service is gone from the table");
    }

    [Fact]
    public async Task A_node_port_is_served_on_the_node_address()
    {
        var backend = StartTcpBackend("node-port", EndpointAddresses[0], 8080);
        await Proxy.SyncAsync(Table(Port("np", ServiceAddress(9), 80, endpoints: [backend]) with { NodePort = 30080 }), CancellationToken.None);

        (await AskTcpAsync(NodeAddress, 30080)).Should().Be("node-port");
        (await AskTcpAsync(ServiceAddress(9), 80)).Should().Be("node-port");
    }

    [Fact]
    public async Task External_and_load_balancer_ips_are_served_on_the_service_port()
    {
        var backend = StartTcpBackend("outside-in", EndpointAddresses[0], 8080);
        await Proxy.SyncAsync(Table(Port("lb", ServiceAddress(15), 80, endpoints: [backend]) with { ExternalIPs = [ServiceAddress(16)], LoadBalancerIPs = [NodeAddress] }), CancellationToken.None);

        (await AskTcpAsync(ServiceAddress(16), 80)).Should().Be("outside-in", "an external IP is served on the Service's port");
        (await AskTcpAsync(NodeAddress, 80)).Should().Be("outside-in", "so is a load-balancer ingress IP (the node's, as k3s gives it)");
    }

    [Fact]
    public async Task Client_ip_affinity_keeps_a_client_on_one_endpoint()
    {
        var backends = Enumerable.Range(0, 3).Select(i => StartTcpBackend($"sticky-{i}", EndpointAddresses[i], 8080)).ToList();
        await Proxy.SyncAsync(Table(Port("sticky", ServiceAddress(10), 80, endpoints: backends) with { StickyFor = TimeSpan.FromMinutes(5) }), CancellationToken.None);

        var first = await AskTcpAsync(ServiceAddress(10), 80);
        for (var i = 0; i < 15; i++)
        {
            (await AskTcpAsync(ServiceAddress(10), 80)).Should().Be(first, "ClientIP affinity holds the client to the endpoint it reached first");
        }
    }

    [Fact]
    public async Task Syncing_an_unchanged_table_again_keeps_serving()
    {
        var backend = StartTcpBackend("steady", EndpointAddresses[0], 8080);
        var table = Table(Port("steady", ServiceAddress(11), 80, endpoints: [backend]));
        await Proxy.SyncAsync(table, CancellationToken.None);

        await Proxy.SyncAsync(Table(Port("steady", ServiceAddress(11), 80, endpoints: [backend])), CancellationToken.None);

        (await AskTcpAsync(ServiceAddress(11), 80)).Should().Be("steady");
    }

    [Fact]
    public async Task An_established_connection_survives_a_sync_that_changes_other_services()
    {
        var backend = StartTcpBackend("long", EndpointAddresses[0], 8080);
        var other = StartTcpBackend("other", EndpointAddresses[1], 8080);
        var kept = Port("long", ServiceAddress(12), 80, endpoints: [backend]);
        await Proxy.SyncAsync(Table(kept), CancellationToken.None);
        using var connection = await ConnectAsync(ServiceAddress(12), 80);
        (await ExchangeAsync(connection)).Should().Be("long");

        await Proxy.SyncAsync(Table(kept, Port("other", ServiceAddress(13), 80, endpoints: [other])), CancellationToken.None);

        (await ExchangeAsync(connection)).Should().Be("long", "the open connection still reaches its backend");
        (await AskTcpAsync(ServiceAddress(13), 80)).Should().Be("other");
    }

    [Fact]
    public async Task Clean_up_stops_serving_every_service()
    {
        var backend = StartTcpBackend("clean", EndpointAddresses[0], 8080);
        await Proxy.SyncAsync(Table(Port("clean", ServiceAddress(14), 80, endpoints: [backend])), CancellationToken.None);
        (await AskTcpAsync(ServiceAddress(14), 80)).Should().Be("clean");

        await Proxy.CleanUpAsync(CancellationToken.None);

        var reached = async () => await AskTcpAsync(ServiceAddress(14), 80);
        await reached.Should().ThrowAsync<Exception>();
    }

    /// <summary>A table of <paramref name="ports"/>.</summary>
    protected static ServiceTable Table(params ServicePort[] ports) => new(ports);

    /// <summary>A Service port in namespace <c>conformance</c> with one cluster IP, its traffic going to <paramref name="endpoints"/>.</summary>
    protected static ServicePort Port(string service, IPAddress clusterIp, int port, IReadOnlyList<ServiceEndpoint> endpoints, string portName = "", ServiceProtocol protocol = ServiceProtocol.Tcp) =>
        new(new ServicePortName("conformance", service, portName, protocol), port)
        {
            ClusterIPs = [clusterIp],
            ClusterEndpoints = endpoints,
            ExternalEndpoints = endpoints,
        };

    /// <summary>Starts a TCP server on <paramref name="address"/>:<paramref name="port"/> that writes <paramref name="name"/> and a newline for every line it reads.</summary>
    protected ServiceEndpoint StartTcpBackend(string name, IPAddress address, int port)
    {
        var listener = CreateSocket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(address, port));
        listener.Listen(64);
        var accepting = Task.Run(async () =>
        {
            var reply = Encoding.ASCII.GetBytes(name + "\n");
            while (!_stop.IsCancellationRequested)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptAsync(_stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var buffer = new byte[256];
                        try
                        {
                            while (await client.ReceiveAsync(buffer, SocketFlags.None, _stop.Token) > 0)
                            {
                                await client.SendAsync(reply, SocketFlags.None, _stop.Token);
                            }
                        }
                        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
                        {
                        }
                    }
                });
            }
        });
        _backends.Add(new Backend(listener, accepting));
        return new ServiceEndpoint(address, port, "node-a");
    }

    /// <summary>Starts a UDP server that answers every datagram with <paramref name="name"/>.</summary>
    protected ServiceEndpoint StartUdpBackend(string name, IPAddress address, int port)
    {
        var socket = CreateSocket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(address, port));
        var serving = Task.Run(async () =>
        {
            var reply = Encoding.ASCII.GetBytes(name);
            var buffer = new byte[1500];
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                    await socket.SendToAsync(reply, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        });
        _backends.Add(new Backend(socket, serving));
        return new ServiceEndpoint(address, port, "node-a");
    }

    /// <summary>Connects from the client address, sends a line, and returns the backend's answer.</summary>
    protected async Task<string> AskTcpAsync(IPAddress address, int port)
    {
        using var socket = await ConnectAsync(address, port);
        return await ExchangeAsync(socket);
    }

    /// <summary>A TCP connection from the client address; a refusal throws <see cref="SocketException"/>, a timeout <see cref="TimeoutException"/>.</summary>
    protected async Task<Socket> ConnectAsync(IPAddress address, int port)
    {
        var socket = CreateSocket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(ClientAddress, 0));
            using var deadline = new CancellationTokenSource(ConnectTimeout);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), deadline.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no answer from {address}:{port} within {ConnectTimeout}");
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends a line on an open connection and returns the answer line.</summary>
    protected async Task<string> ExchangeAsync(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        using var deadline = new CancellationTokenSource(ConnectTimeout);
        await socket.SendAsync("hello\n"u8.ToArray(), SocketFlags.None, deadline.Token);
        var buffer = new byte[256];
        var text = new StringBuilder();
        while (!text.ToString().Contains('\n', StringComparison.Ordinal))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            if (read == 0)
            {
                throw new IOException($"the connection closed after '{text}'");
            }

            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString().TrimEnd('\n');
    }

    /// <summary>Sends a datagram from the client address and returns the answer.</summary>
    protected async Task<string> AskUdpAsync(IPAddress address, int port)
    {
        using var socket = CreateSocket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(ClientAddress, 0));
        var buffer = new byte[1500];
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await socket.SendToAsync("ping"u8.ToArray(), SocketFlags.None, new IPEndPoint(address, port));
            using var deadline = new CancellationTokenSource(ConnectTimeout);
            try
            {
                var received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), deadline.Token);
                return Encoding.ASCII.GetString(buffer, 0, received.ReceivedBytes);
            }
            catch (OperationCanceledException)
            {
                // A datagram may be lost: try again, a bounded number of times.
            }
        }

        throw new TimeoutException($"no UDP answer from {address}:{port}");
    }

    private sealed class Backend(Socket socket, Task running) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            socket.Dispose();
            try
            {
                await running.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is TimeoutException or SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
