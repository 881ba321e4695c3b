using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Hosting;

/// <summary>
/// Creates what every cluster starts with, as kube-apiserver's bootstrap does: the namespaces
/// default, kube-system, kube-public and kube-node-lease, the <c>kubernetes</c> Service at the
/// first address of the service network (its endpoint the API relay on every node), and the cluster DNS's <c>kube-dns</c> Service at the tenth. A restart on the same store finds them there and keeps them.
/// </summary>
public sealed partial class ClusterBootstrap(ObjectRegistry registry, IOptions<ClusterBootstrapOptions> options, ILogger<ClusterBootstrap> logger) : IHostedService
{
    /// <summary>The namespaces every cluster has.</summary>
    public static IReadOnlyList<string> SystemNamespaces { get; } = ["default", "kube-system", "kube-public", "kube-node-lease"];

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var kind = registry.Kinds.Find("", "namespaces")!;
        foreach (var name in SystemNamespaces)
        {
            try
            {
                await registry.CreateAsync(kind, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = name } }, null, cancellationToken).ConfigureAwait(false);
                LogNamespaceCreated(name);
            }
            catch (AlreadyExistsException)
            {
                // A restart on the same store: it is there already.
            }
        }

        var service = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = "kubernetes",
                ["labels"] = new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" },
            },
            ["spec"] = new JsonObject
            {
                ["clusterIP"] = registry.ServiceAddresses.FirstAddress.ToString(),
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443, ["targetPort"] = options.Value.NodeLocalApiPort, ["protocol"] = "TCP" }),
            },
        };
        try
        {
            await registry.CreateAsync(registry.Kinds.Find("", "services")!, "default", service, null, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
        }

        // Its endpoint is on every node: each node relays its pods' connections to the API servers.
        await CreateNodeLocalSliceAsync(
            "default",
            ApiServerSlice,
            "kubernetes",
            options.Value.NodeLocalApiAddress,
            new JsonArray(new JsonObject { ["name"] = "https", ["port"] = options.Value.NodeLocalApiPort, ["protocol"] = "TCP" }),
            cancellationToken).ConfigureAwait(false);

        if (options.Value.ClusterDns)
        {
            await CreateClusterDnsAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The name of the EndpointSlice that points the <c>kube-dns</c> Service at every node's own DNS server.</summary>
    public const string NodeLocalDnsSlice = "kube-dns-node-local";

    /// <summary>The name of the EndpointSlice that points the <c>kubernetes</c> Service at every node's own API relay.</summary>
    public const string ApiServerSlice = "kubernetes";

    // The kube-dns Service has no selector: the bootstrap writes its one EndpointSlice, whose address
    // is local on every node, so the network proxy sends each query to the node's own DNS server.
    private async Task CreateClusterDnsAsync(CancellationToken cancellationToken)
    {
        var labels = new JsonObject { ["k8s-app"] = "kube-dns", ["kubernetes.io/name"] = "CoreDNS", ["kubernetes.io/cluster-service"] = "true" };
        var dns = new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "kube-dns", ["labels"] = labels.DeepClone() },
            ["spec"] = new JsonObject
            {
                ["clusterIP"] = registry.ServiceAddresses.DnsAddress.ToString(),
                ["ports"] = new JsonArray(
                    new JsonObject { ["name"] = "dns", ["port"] = 53, ["targetPort"] = 53, ["protocol"] = "UDP" },
                    new JsonObject { ["name"] = "dns-tcp", ["port"] = 53, ["targetPort"] = 53, ["protocol"] = "TCP" }),
            },
        };
        try
        {
            await registry.CreateAsync(registry.Kinds.Find("", "services")!, "kube-system", dns, null, cancellationToken).ConfigureAwait(false);
            LogClusterDnsCreated(registry.ServiceAddresses.DnsAddress.ToString());
        }
        catch (AlreadyExistsException)
        {
        }
        catch (InvalidException ex)
        {
            // An older cluster may have given the address to a Service of its own.
            LogClusterDnsNotCreated(ex.Message);
            return;
        }

        await CreateNodeLocalSliceAsync(
            "kube-system",
            NodeLocalDnsSlice,
            "kube-dns",
            options.Value.NodeLocalDnsAddress,
            new JsonArray(
                new JsonObject { ["name"] = "dns", ["port"] = 53, ["protocol"] = "UDP" },
                new JsonObject { ["name"] = "dns-tcp", ["port"] = 53, ["protocol"] = "TCP" }),
            cancellationToken).ConfigureAwait(false);
    }

    // A selector-less Service's one EndpointSlice, whose address is local on every node.
    private async Task CreateNodeLocalSliceAsync(string ns, string name, string service, string address, JsonArray ports, CancellationToken cancellationToken)
    {
        var slice = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = service, ["endpointslice.kubernetes.io/managed-by"] = "orchestration-cluster-bootstrap" },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(new JsonObject
            {
                ["addresses"] = new JsonArray(address),
                ["conditions"] = new JsonObject { ["ready"] = true, ["serving"] = true, ["terminating"] = false },
            }),
            ["ports"] = ports,
        };
        try
        {
            await registry.CreateAsync(registry.Kinds.Find("discovery.k8s.io", "endpointslices")!, ns, slice, null, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
        }
        catch (InvalidException ex)
        {
            LogSliceNotCreated(ns, name, ex.Message);
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Created namespace {Namespace}")]
    private partial void LogNamespaceCreated(string @namespace);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Created the kube-dns Service at {Address}")]
    private partial void LogClusterDnsCreated(string address);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Could not create the kube-dns Service: {Reason}")]
    private partial void LogClusterDnsNotCreated(string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Could not create EndpointSlice {Namespace}/{Name}: {Reason}")]
    private partial void LogSliceNotCreated(string @namespace, string name, string reason);
}
