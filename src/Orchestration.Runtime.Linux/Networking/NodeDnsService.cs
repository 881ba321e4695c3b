using System.Net;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Dns;
using Orchestration.Informers;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// The cluster DNS on a worker: a <see cref="ClusterDnsServer"/> listening inside the node's network
/// namespace (on NodeLocal DNSCache's link-local address, which the bootstrap's <c>kube-dns</c>
/// Service points at, so the network proxy sends a pod's query for the Service's address to its own
/// node), its zone fed from Services and EndpointSlices as they change (through the worker's shared
/// <see cref="WorkerInformers"/>). A stop takes the listen address off the node's loopback again.
/// </summary>
public sealed partial class NodeDnsService(IServiceProvider services, WorkerInformers informers, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<NodeDnsService>();

    /// <summary>The running server (null before it starts).</summary>
    public ClusterDnsServer? Server { get; private set; }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here: the namespace is known once the runtime's daemon has started.
        var zone = services.GetRequiredService<ClusterDnsZone>();
        var server = services.GetRequiredService<ClusterDnsServer>();
        var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ClusterDnsOptions>>().Value;
        var path = services.GetService<INodeNetworkNamespace>()?.NetworkNamespacePath;
        // Without a namespace of its own (path null) there are no link addresses to add or remove.
        var linkAddresses = path is null ? [] : options.ListenEndPoints.Select(e => e.Address).Where(a => !IPAddress.IsLoopback(a) && !a.Equals(IPAddress.Any)).Distinct().ToList();
        foreach (var address in linkAddresses)
        {
            // The listen address is the node's own, on its loopback link, like NodeLocal DNSCache's.
            await NodeLoopbackAddress.AddAsync(path!, address, stoppingToken).ConfigureAwait(false);
        }

        var serviceInformer = informers.Factory.For<V1Service>();
        var sliceInformer = informers.Factory.For<V1EndpointSlice>();
        serviceInformer.AddEventHandlers(zone.SetService, (_, now) => zone.SetService(now), s => zone.RemoveService(s.Metadata.NamespaceProperty ?? "", s.Metadata.Name));
        sliceInformer.AddEventHandlers(zone.SetEndpointSlice, (_, now) => zone.SetEndpointSlice(now), s => zone.RemoveEndpointSlice(s.Metadata.NamespaceProperty ?? "", s.Metadata.Name));
        try
        {
            await server.StartAsync(stoppingToken).ConfigureAwait(false);
            Server = server;
            LogListening(string.Join(", ", server.EndPoints), options.Upstreams.Count);
            await Task.Delay(Timeout.InfiniteTimeSpan, timeProvider, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.Net.Sockets.SocketException or IOException)
        {
            // A node without its DNS still runs its pods (they fail to resolve, as with a broken
            // CoreDNS): the reason is logged, the rest of the worker goes on.
            LogCannotListen(ex, string.Join(", ", options.ListenEndPoints));
            await Task.Delay(Timeout.InfiniteTimeSpan, timeProvider, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await server.DisposeAsync().ConfigureAwait(false);
        foreach (var address in linkAddresses)
        {
            // The address is this component's (by its options); a namespace that outlives the worker
            // keeps no trace of it. The namespace may be gone already: nothing to take off then.
            if (await NodeLoopbackAddress.RemoveAsync(path!, address).ConfigureAwait(false) is { } output)
            {
                LogAddressNotRemoved(address.ToString(), output);
            }
        }
    }

    [LoggerMessage(EventId = 4062, Level = LogLevel.Debug, Message = "Cluster DNS could not take {Address} off the node's loopback: {Output}")]
    private partial void LogAddressNotRemoved(string address, string output);

    [LoggerMessage(EventId = 4061, Level = LogLevel.Error, Message = "Cluster DNS cannot listen on {EndPoints}; pods on this node will not resolve cluster names")]
    private partial void LogCannotListen(Exception ex, string endPoints);

    [LoggerMessage(EventId = 4060, Level = LogLevel.Information, Message = "Cluster DNS listens on {EndPoints} in the node's namespace, forwarding other names to {Upstreams} upstream server(s)")]
    private partial void LogListening(string endPoints, int upstreams);
}
