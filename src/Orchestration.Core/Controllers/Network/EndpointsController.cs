using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Informers;
using Orchestration.Resources;

namespace Orchestration.Controllers.Network;

/// <summary>
/// Keeps each Service's Endpoints and EndpointSlice in step with the pods its selector matches:
/// ready pods as addresses, others as not-ready ones, with the Service's ports resolved against the
/// pods' container ports (a named targetPort finds its number per pod).
/// </summary>
public sealed partial class EndpointsController(IClusterClient client, ILogger<EndpointsController> logger) : IController
{
    /// <summary>The label that ties an EndpointSlice to its Service.</summary>
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <summary>Registers the controller: Services, and the pods that may back them.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Service>().Watches<V1Pod>(ServicesOf);
    }

    /// <summary>The Services in a pod's namespace whose selectors match it.</summary>
    public static IEnumerable<ObjectKey> ServicesOf(InformerFactory informers, V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(pod);
        var labels = pod.Metadata.Labels ?? new Dictionary<string, string>();
        return informers.For<V1Service>().Cache.List(pod.Metadata.NamespaceProperty)
            .Where(s => s.Spec?.Selector is { Count: > 0 } selector && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value))
            .Select(s => new ObjectKey(s.Metadata.NamespaceProperty, s.Metadata.Name));
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
            // Slices are owned by the Service and go with it; Endpoints share its name and go here.
            await DeleteIfPresentAsync<V1Endpoints>(key, cancellationToken).ConfigureAwait(false);
            return ReconcileResult.Done;
        }

        if (service.Spec?.Selector is not { Count: > 0 } selector)
        {
            return ReconcileResult.Done;
        }

        var selectorText = LabelSelectors.ToString(selector);
        var pods = (await client.ListAsync<V1Pod>(key.Namespace, new ListOptions { LabelSelector = selectorText }, cancellationToken).ConfigureAwait(false)).Items
            .Where(p => !string.IsNullOrEmpty(p.Status?.PodIP) && p.Metadata.DeletionTimestamp is null && p.Status?.Phase is not ("Succeeded" or "Failed"))
            .OrderBy(p => p.Metadata.Name, StringComparer.Ordinal)
            .ToList();
        await WriteEndpointsAsync(service, pods, cancellationToken).ConfigureAwait(false);
        await WriteSliceAsync(service, pods, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    private async Task WriteEndpointsAsync(V1Service service, List<V1Pod> pods, CancellationToken cancellationToken)
    {
        // One subset per distinct set of resolved ports, as Kubernetes groups them.
        var subsets = pods
            .GroupBy(p => string.Join(";", Ports(service, p).Select(x => $"{x.Name}/{x.Port}/{x.Protocol}")))
            .Select(g =>
            {
                var ready = g.Where(IsReady).Select(Address).ToList();
                var notReady = g.Where(p => !IsReady(p)).Select(Address).ToList();
                return new V1EndpointSubset
                {
                    Addresses = ready.Count > 0 ? ready : null,
                    NotReadyAddresses = notReady.Count > 0 ? notReady : null,
                    Ports = Ports(service, g.First()).Select(p => new Corev1EndpointPort { Name = p.Name, Port = p.Port, Protocol = p.Protocol }).ToList(),
                };
            })
            .ToList();
        var endpoints = new V1Endpoints
        {
            Metadata = new V1ObjectMeta { Name = service.Metadata.Name, NamespaceProperty = service.Metadata.NamespaceProperty, Labels = service.Metadata.Labels },
            Subsets = subsets.Count > 0 ? subsets : null,
        };
        try
        {
            var current = await client.GetAsync<V1Endpoints>(service.Metadata.NamespaceProperty, service.Metadata.Name, cancellationToken).ConfigureAwait(false);
            if (Same(current.Subsets, endpoints.Subsets))
            {
                return;
            }

            current.Subsets = endpoints.Subsets;
            await client.UpdateAsync(current, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            await client.CreateAsync(endpoints, cancellationToken).ConfigureAwait(false);
        }

        LogEndpointsWritten(service.Metadata.NamespaceProperty, service.Metadata.Name, pods.Count);
    }

    private async Task WriteSliceAsync(V1Service service, List<V1Pod> pods, CancellationToken cancellationToken)
    {
        var name = $"{service.Metadata.Name}-ipv4";
        List<(string? Name, int Port, string Protocol)> ports = pods.Count > 0
            ? Ports(service, pods[0])
            : (service.Spec.Ports ?? []).Select(p => ((string?)p.Name, p.TargetPort?.Value is { } v && int.TryParse(v, out var n) ? n : p.Port, p.Protocol ?? "TCP")).ToList();
        var slice = new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = service.Metadata.NamespaceProperty,
                Labels = new Dictionary<string, string> { [ServiceNameLabel] = service.Metadata.Name, ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io" },
                OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Service", Name = service.Metadata.Name, Uid = service.Metadata.Uid, Controller = true, BlockOwnerDeletion = true }],
            },
            AddressType = "IPv4",
            Endpoints = pods.Select(p => new V1Endpoint
            {
                Addresses = [p.Status.PodIP],
                Conditions = new V1EndpointConditions { Ready = IsReady(p), Serving = IsReady(p), Terminating = false },
                NodeName = p.Spec?.NodeName,
                TargetRef = new V1ObjectReference { Kind = "Pod", Name = p.Metadata.Name, NamespaceProperty = p.Metadata.NamespaceProperty, Uid = p.Metadata.Uid },
            }).ToList(),
            Ports = ports.Select(p => new Discoveryv1EndpointPort { Name = p.Name, Port = p.Port, Protocol = p.Protocol }).ToList(),
        };
        try
        {
            var current = await client.GetAsync<V1EndpointSlice>(service.Metadata.NamespaceProperty, name, cancellationToken).ConfigureAwait(false);
            if (KubernetesJsonEquals(current.Endpoints, slice.Endpoints) && KubernetesJsonEquals(current.Ports, slice.Ports))
            {
                return;
            }

            current.Endpoints = slice.Endpoints;
            current.Ports = slice.Ports;
            await client.UpdateAsync(current, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            await client.CreateAsync(slice, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The Service's ports as this pod serves them: a named targetPort is looked up in the pod's containers.</summary>
    private static List<(string? Name, int Port, string Protocol)> Ports(V1Service service, V1Pod pod)
    {
        var result = new List<(string?, int, string)>();
        foreach (var port in service.Spec?.Ports ?? [])
        {
            var target = port.TargetPort?.Value;
            int number;
            if (target is null)
            {
                number = port.Port;
            }
            else if (!int.TryParse(target, out number))
            {
                var named = (pod.Spec?.Containers ?? []).SelectMany(c => c.Ports ?? []).FirstOrDefault(p => p.Name == target);
                if (named is null)
                {
                    continue;
                }

                number = named.ContainerPort;
            }

            result.Add((port.Name, number, port.Protocol ?? "TCP"));
        }

        return result;
    }

    private static bool IsReady(V1Pod pod) => pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    private static V1EndpointAddress Address(V1Pod pod) => new()
    {
        Ip = pod.Status.PodIP,
        NodeName = pod.Spec?.NodeName,
        TargetRef = new V1ObjectReference { Kind = "Pod", Name = pod.Metadata.Name, NamespaceProperty = pod.Metadata.NamespaceProperty, Uid = pod.Metadata.Uid },
    };

    private static bool Same(IList<V1EndpointSubset>? a, IList<V1EndpointSubset>? b) => KubernetesJsonEquals(a, b);

    private static bool KubernetesJsonEquals<T>(T? a, T? b) =>
        System.Text.Json.Nodes.JsonNode.DeepEquals(
            System.Text.Json.JsonSerializer.SerializeToNode(a, ObjectConversion.SerializerOptions),
            System.Text.Json.JsonSerializer.SerializeToNode(b, ObjectConversion.SerializerOptions));

    private async Task DeleteIfPresentAsync<T>(ObjectKey key, CancellationToken cancellationToken)
        where T : class, k8s.IKubernetesObject<V1ObjectMeta>
    {
        try
        {
            await client.DeleteAsync<T>(key.Namespace, key.Name, null, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
    }

    [LoggerMessage(EventId = 1480, Level = LogLevel.Debug, Message = "Endpoints of {Namespace}/{Service}: {Count} pods")]
    private partial void LogEndpointsWritten(string? @namespace, string service, int count);
}
