using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;

namespace Orchestration.Controllers.Network;

/// <summary>
/// Serves Services of type LoadBalancer on a cluster without a cloud, the way k3s's service load
/// balancer does: the addresses of the Ready nodes (ExternalIP where a node has one, else InternalIP)
/// become the Service's <c>status.loadBalancer.ingress</c>, and every node's network proxy serves
/// the Service's port on them. A Service with a <c>loadBalancerClass</c> is left to that class's
/// controller; one that stops being a LoadBalancer loses its ingress.
/// </summary>
public sealed partial class ServiceLoadBalancerController(IClusterClient client, ControllerContext context, ILogger<ServiceLoadBalancerController> logger) : IController
{
    /// <summary>Registers the controller: Services, and every Service again when a node changes.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Service>().Watches<V1Node>((informers, _) => informers.For<V1Service>().Cache.List(null)
            .Where(s => s.Spec?.Type == "LoadBalancer")
            .Select(s => new ObjectKey(s.Metadata.NamespaceProperty, s.Metadata.Name)));
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        V1Service service;
        try
        {
            service = await client.GetAsync<V1Service>(key.Namespace, key.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }

        var ours = service.Spec?.Type == "LoadBalancer" && string.IsNullOrEmpty(service.Spec.LoadBalancerClass);
        if (!ours && service.Spec?.Type == "LoadBalancer")
        {
            return ReconcileResult.Done;
        }

        // The shared node cache while the controllers run; a list when reconciled by hand.
        var nodes = context.Current?.For<V1Node>().Cache.List(null) ?? (await client.ListAsync<V1Node>(null, null, cancellationToken).ConfigureAwait(false)).Items;
        var wanted = ours ? Addresses(nodes) : [];
        var current = (service.Status?.LoadBalancer?.Ingress ?? []).Select(i => i.Ip).Where(ip => ip is not null).ToList();
        if (current.SequenceEqual(wanted))
        {
            return ReconcileResult.Done;
        }

        service.Status ??= new V1ServiceStatus();
        service.Status.LoadBalancer = new V1LoadBalancerStatus
        {
            Ingress = wanted.Count > 0 ? wanted.Select(ip => new V1LoadBalancerIngress { Ip = ip, IpMode = "VIP" }).ToList() : null,
        };
        await client.UpdateStatusAsync(service, cancellationToken).ConfigureAwait(false);
        LogIngress(key.Namespace, key.Name, string.Join(", ", wanted));
        return ReconcileResult.Done;
    }

    /// <summary>The addresses of the Ready nodes, in order.</summary>
    public static List<string> Addresses(IEnumerable<V1Node> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        return nodes
            .Where(n => n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true)
            .Select(n => n.Status.Addresses?.FirstOrDefault(a => a.Type == "ExternalIP")?.Address ?? n.Status.Addresses?.FirstOrDefault(a => a.Type == "InternalIP")?.Address)
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    [LoggerMessage(EventId = 1510, Level = LogLevel.Information, Message = "Service {Namespace}/{Service} load-balancer ingress: {Addresses}")]
    private partial void LogIngress(string? @namespace, string service, string addresses);
}
