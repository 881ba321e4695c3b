using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.Resources.Quota;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// kube-apiserver's LimitRanger for the <c>Container</c> items of a namespace's LimitRanges: a new
/// pod's containers get the item's <c>defaultRequest</c> and <c>default</c> (limit) for each resource
/// they leave unset (defaultRequest falling back to default, default to max, as the API defaults
/// them), recorded in the <c>kubernetes.io/limit-ranger</c> annotation; then a container whose
/// request is below <c>min</c> or whose limit is above <c>max</c> is refused (403) in
/// kube-apiserver's words (<c>[maximum cpu usage per Container is 1, but limit is 2]</c>).
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

        var items = (await StoredObjects.ListAsync(store, $"/registry/core/limitranges/{ns}/", cancellationToken).ConfigureAwait(false))
            .SelectMany(range => range["spec"]?["limits"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .Where(item => item["type"]?.ToString() == "Container")
            .ToList();
        if (items.Count == 0)
        {
            return;
        }

        var containers = (request.Object["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>().ToList();
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

    private static Dictionary<string, string>? Quantities(JsonNode? node) =>
        node is JsonObject obj && obj.Count > 0 ? obj.ToDictionary(p => p.Key, p => p.Value?.ToString() ?? "", StringComparer.Ordinal) : null;
}
