using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources;

/// <summary>Turns CustomResourceDefinitions into resource kinds, and checks them.</summary>
public static class CustomResourceDefinitions
{
    /// <summary>The finalizer that holds a CRD until the objects of its kind are deleted.</summary>
    public const string CleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io";

    /// <summary>The kind a CRD defines, served at its served versions and stored at its storage version.</summary>
    public static ResourceKind ToKind(JsonObject crd)
    {
        ArgumentNullException.ThrowIfNull(crd);
        var spec = crd["spec"] as JsonObject ?? [];
        var names = spec["names"] as JsonObject ?? [];
        var versions = (spec["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var served = versions.Where(v => v["served"]?.GetValue<bool>() != false).Select(v => v["name"]!.ToString()).ToList();
        var storage = versions.FirstOrDefault(v => v["storage"]?.GetValue<bool>() == true) ?? versions.FirstOrDefault();
        var storageName = storage?["name"]?.ToString() ?? "v1";
        var subresources = storage?["subresources"] as JsonObject;
        var scale = subresources?["scale"] as JsonObject;
        return new ResourceKind
        {
            Group = spec["group"]?.ToString() ?? "",
            Version = storageName,
            ServedVersions = served.Count > 0 ? served : [storageName],
            Kind = names["kind"]?.ToString() ?? "",
            Plural = names["plural"]?.ToString() ?? "",
            Singular = names["singular"]?.ToString() is { Length: > 0 } singular ? singular : (names["kind"]?.ToString() ?? "").ToLowerInvariant(),
            Namespaced = spec["scope"]?.ToString() != "Cluster",
            ClrType = null,
            ShortNames = (names["shortNames"] as JsonArray ?? []).Select(n => n!.ToString()).ToList(),
            Categories = (names["categories"] as JsonArray ?? []).Select(n => n!.ToString()).ToList(),
            HasStatus = subresources?["status"] is not null,
            HasScale = scale is not null,
            Scale = scale is null
                ? ScalePaths.Default
                : new ScalePaths(
                    scale["specReplicasPath"]?.ToString().TrimStart('.') ?? "spec.replicas",
                    scale["statusReplicasPath"]?.ToString().TrimStart('.') ?? "status.replicas",
                    scale["labelSelectorPath"]?.ToString().TrimStart('.')),
            Schema = storage?["schema"]?["openAPIV3Schema"]?.DeepClone() as JsonObject,
            PrinterColumns = (storage?["additionalPrinterColumns"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(c => new PrinterColumn(
                    c["name"]?.ToString() ?? "",
                    c["type"]?.ToString() ?? "string",
                    c["jsonPath"]?.ToString() ?? "",
                    c["description"]?.ToString(),
                    c["priority"] is JsonValue p && p.TryGetValue<int>(out var priority) ? priority : 0))
                .ToList(),
        };
    }

    /// <summary>Adds the problems of a CRD to <paramref name="causes"/>.</summary>
    public static void Validate(JsonObject crd, string name, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(crd);
        ArgumentNullException.ThrowIfNull(causes);
        var spec = crd["spec"] as JsonObject;
        var group = spec?["group"]?.ToString();
        var plural = spec?["names"]?["plural"]?.ToString();
        if (string.IsNullOrEmpty(group))
        {
            causes.Add(ObjectValidation.Required("spec.group", ""));
        }

        if (string.IsNullOrEmpty(plural))
        {
            causes.Add(ObjectValidation.Required("spec.names.plural", ""));
        }

        if (string.IsNullOrEmpty(spec?["names"]?["kind"]?.ToString()))
        {
            causes.Add(ObjectValidation.Required("spec.names.kind", ""));
        }

        if (!string.IsNullOrEmpty(group) && !string.IsNullOrEmpty(plural) && name != $"{plural}.{group}")
        {
            causes.Add(ObjectValidation.InvalidValue("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
        }

        if (spec?["scope"]?.ToString() is not ("Namespaced" or "Cluster"))
        {
            causes.Add(ObjectValidation.Unsupported("spec.scope", spec?["scope"]?.ToString(), "Cluster", "Namespaced"));
        }

        var versions = (spec?["versions"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (versions.Count == 0)
        {
            causes.Add(ObjectValidation.Required("spec.versions", "must have exactly one version marked as storage version"));
        }
        else if (versions.Count(v => v["storage"]?.GetValue<bool>() == true) != 1)
        {
            causes.Add(ObjectValidation.InvalidValue("spec.versions", versions.Count(v => v["storage"]?.GetValue<bool>() == true), "must have exactly one version marked as storage version"));
        }
    }

    /// <summary>The status of an accepted CRD: Established and NamesAccepted, with the names it serves.</summary>
    public static JsonObject AcceptedStatus(JsonObject crd, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(crd);
        var time = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        JsonObject Condition(string type, string reason, string message) => new()
        {
            ["type"] = type,
            ["status"] = "True",
            ["lastTransitionTime"] = time,
            ["reason"] = reason,
            ["message"] = message,
        };
        var versions = (crd["spec"]?["versions"] as JsonArray ?? []).OfType<JsonObject>();
        return new JsonObject
        {
            ["conditions"] = new JsonArray(
                Condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                Condition("Established", "InitialNamesAccepted", "the initial names have been accepted")),
            ["acceptedNames"] = crd["spec"]?["names"]?.DeepClone(),
            ["storedVersions"] = new JsonArray(versions.Where(v => v["storage"]?.GetValue<bool>() == true).Select(v => (JsonNode?)JsonValue.Create(v["name"]!.ToString())).ToArray()),
        };
    }
}
