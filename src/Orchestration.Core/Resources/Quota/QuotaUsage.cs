using System.Globalization;
using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Quota;

/// <summary>
/// What objects count against a ResourceQuota, as kube-apiserver's quota evaluators count it: a pod
/// that has not ended counts <c>pods</c> (and <c>count/pods</c>) once, and its effective requests and
/// limits (per resource, the larger of the containers' sum and any one init container's) as
/// <c>requests.cpu</c>, <c>requests.memory</c> (also plain <c>cpu</c>, <c>memory</c>),
/// <c>limits.cpu</c> and <c>limits.memory</c>; other objects count as <c>count/PLURAL[.GROUP]</c>
/// and, for the classic kinds, by their plural (<c>services</c>, <c>configmaps</c>, <c>secrets</c>).
/// CPU is counted in thousandths of a core, memory in bytes.
/// </summary>
public static class QuotaUsage
{
    private static readonly HashSet<string> ClassicCounts = ["services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas"];

    /// <summary>The quota resources one object of <paramref name="kind"/> uses.</summary>
    public static Dictionary<string, long> Of(ResourceKind kind, JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        var count = kind.Group.Length == 0 ? $"count/{kind.Plural}" : $"count/{kind.Plural}.{kind.Group}";
        var used = new Dictionary<string, long>(StringComparer.Ordinal) { [count] = 1 };
        if (kind.Group.Length == 0 && ClassicCounts.Contains(kind.Plural))
        {
            used[kind.Plural] = 1;
        }

        if (kind is { Group: "", Kind: "Pod" })
        {
            if (obj["status"]?["phase"]?.ToString() is "Succeeded" or "Failed")
            {
                // An ended pod holds nothing.
                return [];
            }

            used["pods"] = 1;
            foreach (var (list, key) in new[] { ("requests", "requests"), ("limits", "limits") })
            {
                var cpu = Effective(obj, list, "cpu", milli: true);
                var memory = Effective(obj, list, "memory", milli: false);
                used[$"{key}.cpu"] = cpu;
                used[$"{key}.memory"] = memory;
                if (key == "requests")
                {
                    used["cpu"] = cpu;
                    used["memory"] = memory;
                }
            }
        }

        return used;
    }

    /// <summary>The containers of a pod that leave <paramref name="list"/>.<paramref name="resource"/> unset (what a quota on it requires them to set).</summary>
    public static List<string> Unset(JsonObject pod, string list, string resource)
    {
        ArgumentNullException.ThrowIfNull(pod);
        return [.. Containers(pod, "containers").Concat(Containers(pod, "initContainers"))
            .Where(c => c["resources"]?[list]?[resource] is null)
            .Select(c => c["name"]?.ToString() ?? "")];
    }

    /// <summary>A quantity in the quota's units as Kubernetes prints it (<c>500m</c>, <c>2</c>, <c>128Mi</c>).</summary>
    public static string Format(string resource, long amount)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (resource.EndsWith("cpu", StringComparison.Ordinal))
        {
            return amount % 1000 == 0 ? (amount / 1000).ToString(CultureInfo.InvariantCulture) : $"{amount.ToString(CultureInfo.InvariantCulture)}m";
        }

        if (resource.EndsWith("memory", StringComparison.Ordinal) && amount != 0)
        {
            foreach (var (suffix, size) in new[] { ("Gi", 1L << 30), ("Mi", 1L << 20), ("Ki", 1L << 10) })
            {
                if (amount % size == 0)
                {
                    return $"{(amount / size).ToString(CultureInfo.InvariantCulture)}{suffix}";
                }
            }
        }

        return amount.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>A hard limit from a quota's spec in the units <see cref="Of"/> counts in.</summary>
    public static long Parse(string resource, string quantity)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var value = new ResourceQuantity(quantity).ToDecimal();
        return (long)Math.Ceiling(resource.EndsWith("cpu", StringComparison.Ordinal) ? value * 1000 : value);
    }

    private static long Effective(JsonObject pod, string list, string resource, bool milli)
    {
        long Amount(JsonObject container) =>
            container["resources"]?[list]?[resource]?.ToString() is { } text ? Parse(milli ? "cpu" : "memory", text) : 0;

        var sum = Containers(pod, "containers").Sum(Amount);
        var init = Containers(pod, "initContainers").Select(Amount).DefaultIfEmpty(0).Max();
        return Math.Max(sum, init);
    }

    private static IEnumerable<JsonObject> Containers(JsonObject pod, string field) =>
        (pod["spec"]?[field] as JsonArray ?? []).OfType<JsonObject>();
}
