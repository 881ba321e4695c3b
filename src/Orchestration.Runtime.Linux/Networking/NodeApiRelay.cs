using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Networking;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// The API server as the node's pods reach it: a TCP relay listening inside the node's network
/// namespace on <see cref="NodeApiRelayOptions.ListenEndPoint"/> (the <c>kubernetes</c> Service's
/// endpoint, made the node's own on its loopback link, as the node-local DNS address is), passing
/// each connection to the first API server that answers. TLS goes through untouched, end to end
/// between the pod's client and the API server. Like the load balancer k3s's agent keeps for its
/// own components, it lets the same Service endpoint serve every node whatever the masters' addresses.
/// </summary>
public sealed partial class NodeApiRelay(IServiceProvider services, IOptions<NodeApiRelayOptions> options, ILogger<NodeApiRelay> logger) : BackgroundService
{
    /// <summary>Where the relay listens, once it does.</summary>
    public IPEndPoint? EndPoint { get; private set; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        // Resolved here: the namespace is known once the runtime's daemon has started.
        var path = services.GetService<INodeNetworkNamespace>()?.NetworkNamespacePath;
        if (settings.Upstreams.Count == 0 || path is null)
        {
            // Without a namespace of its own the node's pods share the machine's network, whose
            // addresses are not the relay's to change.
            LogNotRunning(settings.Upstreams.Count == 0 ? "no API server is configured" : "the node has no network namespace of its own");
            return;
        }

        var address = settings.ListenEndPoint.Address;
        using var sockets = new NamespaceSockets(path);
        Socket? listener = null;
        try
        {
            await NodeLoopbackAddress.AddAsync(path, address, stoppingToken).ConfigureAwait(false);
            listener = sockets.Create(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(settings.ListenEndPoint);
            listener.Listen(512);
            EndPoint = settings.ListenEndPoint;
            LogListening(settings.ListenEndPoint.ToString(), string.Join(", ", settings.Upstreams.Select(u => $"{u.Host}:{u.Port}")));
            while (!stoppingToken.IsCancellationRequested)
            {
                var client = await listener.AcceptAsync(stoppingToken).ConfigureAwait(false);
                _ = RelayAsync(client, settings, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is InvalidOperationException or SocketException or IOException)
        {
            // The pods run on without the API (their clients fail to connect); the reason is logged.
            LogCannotListen(ex, settings.ListenEndPoint.ToString());
        }
        finally
        {
            listener?.Dispose();
            EndPoint = null;
            if (await NodeLoopbackAddress.RemoveAsync(path, address).ConfigureAwait(false) is { } output)
            {
                LogAddressNotRemoved(address.ToString(), output);
            }
        }
    }

    private async Task RelayAsync(Socket client, NodeApiRelayOptions settings, CancellationToken stopping)
    {
        using (client)
        {
            foreach (var upstream in settings.Upstreams)
            {
                // Made in this process's own namespace: the API servers are reached as the agent reaches them.
                var backend = new Socket(SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                    deadline.CancelAfter(settings.ConnectTimeout);
                    await backend.ConnectAsync(upstream, deadline.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is SocketException or OperationCanceledException)
                {
                    backend.Dispose();
                    LogUpstreamUnreachable($"{upstream.Host}:{upstream.Port}", ex.Message);
                    continue;
                }

                using (backend)
                {
                    await TcpRelay.PipeAsync(client, backend, stopping).ConfigureAwait(false);
                }

                return;
            }
        }
    }

    [LoggerMessage(EventId = 4070, Level = LogLevel.Information, Message = "Pods reach the API server at {EndPoint} in the node's namespace, relayed to {Upstreams}")]
    private partial void LogListening(string endPoint, string upstreams);

    [LoggerMessage(EventId = 4071, Level = LogLevel.Information, Message = "No API relay for the node's pods: {Reason}")]
    private partial void LogNotRunning(string reason);

    [LoggerMessage(EventId = 4072, Level = LogLevel.Error, Message = "The API relay cannot listen on {EndPoint}; pods on this node will not reach the API server")]
    private partial void LogCannotListen(Exception ex, string endPoint);

    [LoggerMessage(EventId = 4073, Level = LogLevel.Warning, Message = "The API relay could not reach {Upstream}: {Reason}")]
    private partial void LogUpstreamUnreachable(string upstream, string reason);

    [LoggerMessage(EventId = 4074, Level = LogLevel.Debug, Message = "The API relay could not take {Address} off the node's loopback: {Output}")]
    private partial void LogAddressNotRemoved(string address, string output);
}
