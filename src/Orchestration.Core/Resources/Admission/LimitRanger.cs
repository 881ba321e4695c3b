using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.Resources.Quota;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// kube-apiserver's LimitRanger for the <c>Container</c> and <c>Pod</c> items of a namespace's LimitRanges: a new
/// pod's containers get the item's <c>defaultRequest</c> and <c>default</c> (limit) for each resource
/// they leave unset (defaultRequest falling back to default, default to max, as the API defaults
/// them), recorded in the <c>kubernetes.io/limit-ranger</c> annotation; then a container whose
/// request is below <c>min</c>, whose limit is above <c>max</c> or whose limit is more than
/// <c>maxLimitRequestRatio</c> times its request is refused (403) in kube-apiserver's words
/// (<c>[maximum cpu usage per Container is 1, but limit is 2]</c>); a <c>Pod</c> item bounds the
/// pod's total (its containers' sum, or its largest init container) the same way.
/// </summary>
/// <param name="store">The store, where the namespace's LimitRanges are read.</param>
public sealed class LimitRanger(IStateStore store) : IMutatingAdmissionPlugin
{
    /// <summary>The annotation that says what the plugin set.</summary>
    public const string Annotation = "kubernetes.io/limit-ranger";

    /// <inheritdoc />
    public string Name => "LimitRanger";

    /// <inheritdoc />
    public async ValueTask AdmitAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Operation != AdmissionOperation.Create || request.Kind is not { Group: "", Kind: "Pod" } || request.Namespace is not { } ns)
        {
            return;
        }

        var all = (await StoredObjects.ListAsync(store, $"/registry/core/limitranges/{ns}/", cancellationToken).ConfigureAwait(false))
            .SelectMany(range => range["spec"]?["limits"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .ToList();
        var items = all.Where(item => item["type"]?.ToString() == "Container").ToList();
        var podItems = all.Where(item => item["type"]?.ToString() == "Pod").ToList();
        if (items.Count == 0 && podItems.Count == 0)
        {
            return;
        }

        var containers = (request.Object["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var initContainers = (request.Object["spec"]?["initContainers"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var set = new List<string>();
        foreach (var item in items)
        {
            var limits = Quantities(item["default"]) ?? Quantities(item["max"]) ?? [];
            var requests = Quantities(item["defaultRequest"]) ?? Quantities(item["default"]) ?? Quantities(item["min"]) ?? [];
            foreach (var container in containers)
            {
                var name = container["name"]?.ToString() ?? "";
                var requestSet = Default(container, "requests", requests);
                var limitSet = Default(container, "limits", limits);
                if (requestSet.Count > 0)
                {
                    set.Add($"{string.Join(", ", requestSet)} request for container {name}");
                }

                if (limitSet.Count > 0)
                {
                    set.Add($"{string.Join(", ", limitSet)} limit for container {name}");
                }
            }
        }

        if (set.Count > 0)
        {
            var metadata = request.Object["metadata"] as JsonObject ?? [];
            request.Object["metadata"] = metadata;
            var annotations = metadata["annotations"] as JsonObject ?? [];
            metadata["annotations"] = annotations;
            annotations[Annotation] = $"LimitRanger plugin set: {string.Join("; ", set)}";
        }

        var problems = new List<string>();
        foreach (var item in items)
        {
            foreach (var container in containers)
            {
                foreach (var (resource, min) in Quantities(item["min"]) ?? [])
                {
                    if (container["resources"]?["requests"]?[resource]?.ToString() is { } asked && QuotaUsage.Parse(resource, asked) < QuotaUsage.Parse(resource, min))
                    {
                        problems.Add($"minimum {resource} usage per Container is {min}, but request is {asked}");
                    }
                }

                foreach (var (resource, max) in Quantities(item["max"]) ?? [])
                {
                    if (container["resources"]?["limits"]?[resource]?.ToString() is { } limit && QuotaUsage.Parse(resource, limit) > QuotaUsage.Parse(resource, max))
                    {
                        problems.Add($"maximum {resource} usage per Container is {max}, but limit is {limit}");
                    }
                }

                foreach (var (resource, ratio) in Quantities(item["maxLimitRequestRatio"]) ?? [])
                {
                    if (container["resources"]?["limits"]?[resource]?.ToString() is { } limit && container["resources"]?["requests"]?[resource]?.ToString() is { } asked
                        && QuotaUsage.Parse(resource, asked) is > 0 and var requested)
                    {
                        var provided = (double)QuotaUsage.Parse(resource, limit) / requested;
                        if (provided > (double)new k8s.Models.ResourceQuantity(ratio).ToDecimal())
                        {
                            problems.Add($"{resource} max limit to request ratio per Container is {ratio}, but provided ratio is {provided.ToString("F6", System.Globalization.CultureInfo.InvariantCulture)}");
                        }
                    }
                }
            }
        }

        // Pod items bound the pod's total: the sum of its containers (or its largest init container).
        foreach (var item in podItems)
        {
            foreach (var (resource, min) in Quantities(item["min"]) ?? [])
            {
                var total = PodTotal(containers, initContainers, "requests", resource);
                if (total < QuotaUsage.Parse(resource, min))
                {
                    problems.Add($"minimum {resource} usage per Pod is {min}, but request is {QuotaUsage.Format(resource, total)}");
                }
            }

            foreach (var (resource, max) in Quantities(item["max"]) ?? [])
            {
                var total = PodTotal(containers, initContainers, "limits", resource);
                if (total > QuotaUsage.Parse(resource, max))
                {
                    problems.Add($"maximum {resource} usage per Pod is {max}, but limit is {QuotaUsage.Format(resource, total)}");
                }
            }
        }

        if (problems.Count > 0)
        {
            throw new ForbiddenException($"pods \"{request.Name}\" is forbidden: [{string.Join(", ", problems)}]");
        }
    }

    // Sets the resources of list that the container leaves unset; the names set.
    private static List<string> Default(JsonObject container, string list, Dictionary<string, string> defaults)
    {
        var set = new List<string>();
        if (defaults.Count == 0)
        {
            return set;
        }

        var resources = container["resources"] as JsonObject ?? [];
        container["resources"] = resources;
        var values = resources[list] as JsonObject ?? [];
        foreach (var (resource, value) in defaults.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (values[resource] is null)
            {
                values[resource] = value;
                set.Add(resource);
            }
        }

        if (values.Count > 0)
        {
            resources[list] = values;
        }

        return set;
    }

    private static long PodTotal(List<JsonObject> containers, List<JsonObject> initContainers, string list, string resource)
    {
        long Amount(JsonObject container) =>
            container["resources"]?[list]?[resource]?.ToString() is { } text ? QuotaUsage.Parse(resource, text) : 0;

        return Math.Max(containers.Sum(Amount), initContainers.Select(Amount).DefaultIfEmpty(0).Max());
    }

    private static Dictionary<string, string>? Quantities(JsonNode? node) =>
        node is JsonObject obj && obj.Count > 0 ? obj.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "", StringComparer.Ordinal) : null;
}
