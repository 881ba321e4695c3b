using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Quota;

namespace Orchestration.Controllers.Quota;

/// <summary>
/// Keeps each ResourceQuota's status as kube-controller-manager's resourcequota controller does:
/// <c>status.hard</c> is the spec's, <c>status.used</c> what the namespace's objects use of each
/// constrained resource now (<see cref="QuotaUsage"/>), recounted when the quota or an object of
/// its namespace changes.
/// </summary>
public sealed partial class ResourceQuotaController(IClusterClient client, IDynamicClusterClient objects, ResourceKindTable kinds, ILogger<ResourceQuotaController> logger) : IController
{
    /// <summary>Registers the controller: quotas, and a namespace's quotas again when its pods, Services, ConfigMaps or Secrets change.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1ResourceQuota>()
            .Watches<V1Pod>((informers, pod) => QuotasIn(informers, pod.Metadata.NamespaceProperty))
            .Watches<V1Service>((informers, service) => QuotasIn(informers, service.Metadata.NamespaceProperty))
            .Watches<V1ConfigMap>((informers, map) => QuotasIn(informers, map.Metadata.NamespaceProperty))
            .Watches<V1Secret>((informers, secret) => QuotasIn(informers, secret.Metadata.NamespaceProperty));
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        V1ResourceQuota quota;
        try
        {
            quota = await client.GetAsync<V1ResourceQuota>(key.Namespace, key.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }

        var hard = quota.Spec?.Hard ?? new Dictionary<string, ResourceQuantity>();
        var used = new Dictionary<string, ResourceQuantity>(StringComparer.Ordinal);
        var usageByKind = new Dictionary<ResourceKind, Dictionary<string, long>>();
        foreach (var resource in hard.Keys)
        {
            if (KindCounting(resource) is not { } kind)
            {
                continue;
            }

            if (!usageByKind.TryGetValue(kind, out var usage))
            {
                usageByKind[kind] = usage = await UsageAsync(kind, key.Namespace!, cancellationToken).ConfigureAwait(false);
            }

            used[resource] = new ResourceQuantity(QuotaUsage.Format(resource, usage.GetValueOrDefault(resource)));
        }

        var wantedHard = hard.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.Ordinal);
        var wantedUsed = used.ToDictionary(u => u.Key, u => u.Value.ToString(), StringComparer.Ordinal);
        var currentHard = quota.Status?.Hard?.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.Ordinal) ?? [];
        var currentUsed = quota.Status?.Used?.ToDictionary(u => u.Key, u => u.Value.ToString(), StringComparer.Ordinal) ?? [];
        if (Same(wantedHard, currentHard) && Same(wantedUsed, currentUsed))
        {
            return ReconcileResult.Done;
        }

        quota.Status = new V1ResourceQuotaStatus { Hard = hard, Used = used };
        await client.UpdateStatusAsync(quota, cancellationToken).ConfigureAwait(false);
        LogUsed(key.Namespace, key.Name, string.Join(", ", wantedUsed.Select(u => $"{u.Key}={u.Value}")));
        return ReconcileResult.Done;
    }

    private static IEnumerable<ObjectKey> QuotasIn(Informers.InformerFactory informers, string? ns) =>
        informers.For<V1ResourceQuota>().Cache.List(ns).Select(q => new ObjectKey(ns, q.Metadata.Name));

    private static bool Same(Dictionary<string, string> a, Dictionary<string, string> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    // The kind whose objects a quota resource counts: pods for compute resources, the named kind for counts.
    private ResourceKind? KindCounting(string resource)
    {
        if (resource is "pods" or "cpu" or "memory" || resource.StartsWith("requests.", StringComparison.Ordinal) || resource.StartsWith("limits.", StringComparison.Ordinal))
        {
            return kinds.Find("", "pods");
        }

        var name = resource.StartsWith("count/", StringComparison.Ordinal) ? resource["count/".Length..] : resource;
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? kinds.Find("", name) : kinds.Find(name[(dot + 1)..], name[..dot]);
    }

    private async Task<Dictionary<string, long>> UsageAsync(ResourceKind kind, string ns, CancellationToken cancellationToken)
    {
        var total = new Dictionary<string, long>(StringComparer.Ordinal);
        string? next = null;
        do
        {
            var page = await objects.ListAsync(kind, ns, new ListOptions { Limit = 500, Continue = next }, cancellationToken).ConfigureAwait(false);
            foreach (var obj in page.Items)
            {
                foreach (var (resource, amount) in QuotaUsage.Of(kind, obj))
                {
                    total[resource] = total.GetValueOrDefault(resource) + amount;
                }
            }

            next = page.Continue;
        }
        while (next is not null);
        return total;
    }

    [LoggerMessage(EventId = 1540, Level = LogLevel.Debug, Message = "ResourceQuota {Namespace}/{Quota} uses {Used}")]
    private partial void LogUsed(string? @namespace, string quota, string used);
}
