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

    /// <summary>The label naming the controller that manages an EndpointSlice; slices of other managers are left alone.</summary>
    public const string ManagedByLabel = "endpointslice.kubernetes.io/managed-by";

    /// <summary>This controller's value of <see cref="ManagedByLabel"/> (the EndpointSlice controller's own).</summary>
    public const string ManagedBy = "endpointslice-controller.k8s.io";

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
        var matching = (await client.ListAsync<V1Pod>(key.Namespace, new ListOptions { LabelSelector = selectorText }, cancellationToken).ConfigureAwait(false)).Items
            .Where(p => !string.IsNullOrEmpty(p.Status?.PodIP) && p.Status?.Phase is not ("Succeeded" or "Failed"))
            .OrderBy(p => p.Metadata.Name, StringComparer.Ordinal)
            .ToList();

        // Endpoints leave terminating pods out; slices keep them, marked terminating, so that proxies
        // can fall back to those still serving.
        var pods = matching.Where(p => p.Metadata.DeletionTimestamp is null).ToList();
        await WriteEndpointsAsync(service, pods, cancellationToken).ConfigureAwait(false);
        await WriteSlicesAsync(service, matching, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    private async Task WriteEndpointsAsync(V1Service service, List<V1Pod> pods, CancellationToken cancellationToken)
    {
        // One subset per distinct set of resolved ports, as Kubernetes groups them.
        var subsets = pods
            .GroupBy(p => PortsKey(Ports(service, p)))
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

    private async Task WriteSlicesAsync(V1Service service, List<V1Pod> pods, CancellationToken cancellationToken)
    {
        // One slice per distinct set of resolved ports, as the EndpointSlice controller groups them: a
        // named targetPort may resolve to different numbers in different pods.
        var groups = pods.GroupBy(p => PortsKey(Ports(service, p))).ToList();
        List<(List<(string? Name, int Port, string Protocol)> Ports, List<V1Pod> Pods)> wanted = groups.Count > 0
            ? groups.Select(g => (Ports(service, g.First()), g.ToList())).ToList()
            : [((service.Spec.Ports ?? []).Select(p => ((string?)p.Name, p.TargetPort?.Value is { } v && int.TryParse(v, out var n) ? n : p.Port, p.Protocol ?? "TCP")).ToList(), [])];
        var ns = service.Metadata.NamespaceProperty;
        var existing = (await client.ListAsync<V1EndpointSlice>(ns, new ListOptions { LabelSelector = $"{ServiceNameLabel}={service.Metadata.Name}" }, cancellationToken).ConfigureAwait(false)).Items
            .Where(s => s.Metadata.Labels is { } labels && labels.TryGetValue(ManagedByLabel, out var by) && by == ManagedBy)
            .ToDictionary(s => s.Metadata.Name, StringComparer.Ordinal);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (ports, members) in wanted)
        {
            var slice = Slice(service, ports, members);
            names.Add(slice.Metadata.Name);
            if (existing.TryGetValue(slice.Metadata.Name, out var current))
            {
                if (KubernetesJsonEquals(current.Endpoints, slice.Endpoints) && KubernetesJsonEquals(current.Ports, slice.Ports))
                {
                    continue;
                }

                current.Endpoints = slice.Endpoints;
                current.Ports = slice.Ports;
                await client.UpdateAsync(current, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                try
                {
                    await client.CreateAsync(slice, cancellationToken).ConfigureAwait(false);
                }
                catch (AlreadyExistsException)
                {
                    // Written by another pass of this controller a moment ago: the next pass compares it.
                    return;
                }
            }
        }

        foreach (var stale in existing.Keys.Where(n => !names.Contains(n)))
        {
            await DeleteIfPresentAsync<V1EndpointSlice>(new ObjectKey(ns, stale), cancellationToken).ConfigureAwait(false);
        }
    }

    private static V1EndpointSlice Slice(V1Service service, List<(string? Name, int Port, string Protocol)> ports, List<V1Pod> pods)
    {
        var publishNotReady = service.Spec?.PublishNotReadyAddresses == true;
        return new V1EndpointSlice
        {
            Metadata = new V1ObjectMeta
            {
                // Named after the port set, so that a pass finds its slices again by name.
                Name = $"{service.Metadata.Name}-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(PortsKey(ports))))[..5]}",
                NamespaceProperty = service.Metadata.NamespaceProperty,
                Labels = new Dictionary<string, string> { [ServiceNameLabel] = service.Metadata.Name, [ManagedByLabel] = ManagedBy },
                OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "Service", Name = service.Metadata.Name, Uid = service.Metadata.Uid, Controller = true, BlockOwnerDeletion = true }],
            },
            AddressType = "IPv4",
            Endpoints = pods.Select(p =>
            {
                var terminating = p.Metadata.DeletionTimestamp is not null;
                var serving = IsReady(p) || publishNotReady;
                return new V1Endpoint
                {
                    Addresses = [p.Status.PodIP],
                    Conditions = new V1EndpointConditions { Ready = serving && !terminating, Serving = serving, Terminating = terminating },
                    Hostname = !string.IsNullOrEmpty(p.Spec?.Hostname) && p.Spec?.Subdomain == service.Metadata.Name ? p.Spec.Hostname : null,
                    NodeName = p.Spec?.NodeName,
                    TargetRef = new V1ObjectReference { Kind = "Pod", Name = p.Metadata.Name, NamespaceProperty = p.Metadata.NamespaceProperty, Uid = p.Metadata.Uid },
                };
            }).ToList(),
            Ports = ports.Select(p => new Discoveryv1EndpointPort { Name = p.Name, Port = p.Port, Protocol = p.Protocol }).ToList(),
        };
    }

    private static string PortsKey(List<(string? Name, int Port, string Protocol)> ports) => string.Join(";", ports.Select(x => $"{x.Name}/{x.Port}/{x.Protocol}"));

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
