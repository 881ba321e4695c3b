using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.Resources.Quota;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// ResourceQuota admission: an object created in a namespace with ResourceQuotas is refused (403)
/// when it would take a quota's usage of any resource it uses beyond the quota's <c>spec.hard</c>,
/// in kube-apiserver's words (<c>exceeded quota: compute, requested: pods=1, used: pods=2,
/// limited: pods=2</c>), and a pod that leaves unset a request or limit a quota constrains is refused
/// (<c>failed quota: compute: must specify requests.cpu for: main</c>). Usage is counted from the
/// store at each create (<see cref="QuotaUsage"/>). Two creates racing for the last unit of a
/// quota can both pass; the quota controller then shows the excess in <c>status.used</c>.
/// </summary>
/// <param name="store">The store, where quotas and the namespace's objects are read.</param>
public sealed class ResourceQuotaAdmission(IStateStore store) : IValidatingAdmissionPlugin
{
    /// <inheritdoc />
    public string Name => "ResourceQuota";

    /// <inheritdoc />
    public async ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Operation != AdmissionOperation.Create || request.Namespace is not { } ns)
        {
            return;
        }

        var quotas = await StoredObjects.ListAsync(store, $"/registry/core/resourcequotas/{ns}/", cancellationToken).ConfigureAwait(false);
        if (quotas.Count == 0)
        {
            return;
        }

        var requested = QuotaUsage.Of(request.Kind, request.Object);
        Dictionary<string, long>? used = null;
        foreach (var quota in quotas.OrderBy(q => q["metadata"]?["name"]?.ToString(), StringComparer.Ordinal))
        {
            var name = quota["metadata"]?["name"]?.ToString() ?? "";
            var hard = (quota["spec"]?["hard"] as JsonObject ?? []).ToDictionary(h => h.Key, h => QuotaUsage.Parse(h.Key, h.Value?.ToString() ?? "0"), StringComparer.Ordinal);
            if (request.Kind is { Group: "", Kind: "Pod" } && requested.Count > 0)
            {
                var missing = hard.Keys
                    .Where(k => k is "requests.cpu" or "requests.memory" or "limits.cpu" or "limits.memory" or "cpu" or "memory")
                    .Order(StringComparer.Ordinal)
                    .Select(k => (Resource: k, Containers: QuotaUsage.Unset(request.Object, k.StartsWith("limits.", StringComparison.Ordinal) ? "limits" : "requests", k.Split('.')[^1])))
                    .Where(m => m.Containers.Count > 0)
                    .ToList();
                if (missing.Count > 0)
                {
                    throw new ForbiddenException($"{Describe(request)} is forbidden: failed quota: {name}: must specify {string.Join("; ", missing.Select(m => $"{m.Resource} for: {string.Join(",", m.Containers)}"))}");
                }
            }

            var constrained = hard.Keys.Where(k => requested.GetValueOrDefault(k) > 0).Order(StringComparer.Ordinal).ToList();
            if (constrained.Count == 0)
            {
                continue;
            }

            used ??= await UsageAsync(request.Kind, ns, cancellationToken).ConfigureAwait(false);
            if (constrained.Any(k => used.GetValueOrDefault(k) + requested[k] > hard[k]))
            {
                string List(Func<string, long> amount) => string.Join(",", constrained.Select(k => $"{k}={QuotaUsage.Format(k, amount(k))}"));
                throw new ForbiddenException($"{Describe(request)} is forbidden: exceeded quota: {name}, requested: {List(k => requested[k])}, used: {List(k => used.GetValueOrDefault(k))}, limited: {List(k => hard[k])}");
            }
        }
    }

    /// <summary>What the objects of <paramref name="kind"/> in <paramref name="namespace"/> use now.</summary>
    public async Task<Dictionary<string, long>> UsageAsync(ResourceKind kind, string @namespace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var total = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var obj in await StoredObjects.ListAsync(store, ObjectRegistry.PrefixFor(kind, @namespace), cancellationToken).ConfigureAwait(false))
        {
            foreach (var (resource, amount) in QuotaUsage.Of(kind, obj))
            {
                total[resource] = total.GetValueOrDefault(resource) + amount;
            }
        }

        return total;
    }

    private static string Describe(AdmissionRequest request) => $"{request.Kind.Plural} \"{request.Name}\"";
}
