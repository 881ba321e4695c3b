using System.Reflection;
using k8s.Models;

namespace Orchestration.Resources;

/// <summary>How a kind's object names are checked.</summary>
public enum NameRule
{
    /// <summary>A DNS-1123 subdomain: up to 253 characters, lowercase alphanumerics, '-' and '.'.</summary>
    Subdomain,

    /// <summary>A DNS-1123 label: up to 63 characters, lowercase alphanumerics and '-' (namespaces, services).</summary>
    Label,

    /// <summary>Any name usable as one segment of a URL path: not <c>.</c> or <c>..</c>, no <c>/</c> or <c>%</c> (RBAC's roles and bindings, <c>system:node:web-1</c>).</summary>
    PathSegment,
}

/// <summary>
/// One resource kind: a row of the table that drives routing, discovery and the registry, so a
/// new kind is one registration, not new plumbing.
/// </summary>
public sealed record ResourceKind
{
    /// <summary>The API group; empty for the core group.</summary>
    public required string Group { get; init; }

    /// <summary>The served version.</summary>
    public required string Version { get; init; }

    /// <summary>The kind (<c>Deployment</c>).</summary>
    public required string Kind { get; init; }

    /// <summary>The resource name in URLs and store keys (<c>deployments</c>).</summary>
    public required string Plural { get; init; }

    /// <summary>Whether objects live in a namespace.</summary>
    public required bool Namespaced { get; init; }

    /// <summary>The CLR model type objects are read into; null for kinds served as plain JSON (custom resources).</summary>
    public required Type? ClrType { get; init; }

    /// <summary>Every version the kind is served at; objects are stored at <see cref="Version"/> and
    /// served at the others with only their apiVersion changed (no conversion, as a CRD with strategy None).</summary>
    public IReadOnlyList<string> ServedVersions { get => field ?? [Version]; init; }

    /// <summary>The list kind (<c>DeploymentList</c>).</summary>
    public string ListKind => Kind + "List";

    /// <summary>Categories kubectl resolves (<c>all</c>).</summary>
    public IReadOnlyList<string> Categories { get; init; } = [];

    /// <summary>Whether a scale subresource is served (replicas read from and written to the spec).</summary>
    public bool HasScale { get; init; }

    /// <summary>For a scale subresource: JSON paths of the desired and current replicas and the selector.</summary>
    public ScalePaths Scale { get; init; } = ScalePaths.Default;

    /// <summary>Subresources served by handlers of their own (<c>binding</c>, <c>eviction</c>, <c>log</c>).</summary>
    public IReadOnlyList<string> ExtraSubresources { get; init; } = [];

    /// <summary>Columns a custom kind's CRD adds to table output (additionalPrinterColumns).</summary>
    public IReadOnlyList<PrinterColumn> PrinterColumns { get; init; } = [];

    /// <summary>The schema of a custom kind (the CRD's openAPIV3Schema), or null for built-in kinds.</summary>
    public System.Text.Json.Nodes.JsonObject? Schema { get; init; }

    /// <summary>Short names kubectl accepts (<c>deploy</c>).</summary>
    public IReadOnlyList<string> ShortNames { get; init; } = [];

    /// <summary>Whether status is a subresource: a main update keeps the status, a status update changes only it.</summary>
    public bool HasStatus { get; init; }

    /// <summary>
    /// The verbs the kind is served with, or null for every one. The review kinds
    /// (<c>SelfSubjectAccessReview</c>, <c>TokenReview</c>) take only <c>create</c> and are never stored.
    /// </summary>
    public IReadOnlyList<string>? Verbs { get; init; }

    /// <summary>Whether the kind is served with <paramref name="verb"/> (a review kind is not listed, watched or deleted: nothing of it is stored).</summary>
    public bool Serves(string verb) => Verbs is null || Verbs.Contains(verb);

    /// <summary>How names are checked.</summary>
    public NameRule NameRule { get; init; } = NameRule.Subdomain;

    /// <summary><c>group/version</c>, or the version alone for the core group.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The lowercase singular name.</summary>
    public string Singular { get => field ?? Kind.ToLowerInvariant(); init; }

    /// <summary>The group as store keys spell it: "core" for the core group.</summary>
    public string StoreGroup => Group.Length == 0 ? "core" : Group;

    /// <summary>A kind described by its model type's <see cref="KubernetesEntityAttribute"/>.</summary>
    public static ResourceKind For<T>(bool namespaced, bool hasStatus = false, NameRule nameRule = NameRule.Subdomain, params string[] shortNames)
        => For<T>(namespaced, hasStatus, nameRule, categories: [], shortNames);

    /// <summary>A kind described by its model type's <see cref="KubernetesEntityAttribute"/>, in categories such as <c>all</c>.</summary>
    public static ResourceKind For<T>(bool namespaced, bool hasStatus, NameRule nameRule, string[] categories, params string[] shortNames)
    {
        var entity = typeof(T).GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{typeof(T).Name} has no [KubernetesEntity] attribute; describe its kind explicitly.");
        return new ResourceKind
        {
            Group = entity.Group ?? "",
            Version = entity.ApiVersion,
            Kind = entity.Kind,
            Plural = entity.PluralName,
            Namespaced = namespaced,
            ClrType = typeof(T),
            ShortNames = shortNames,
            HasStatus = hasStatus,
            NameRule = nameRule,
            Categories = categories,
        };
    }
}

/// <summary>Where a kind keeps what its scale subresource reads and writes.</summary>
/// <param name="SpecReplicas">The desired replicas (<c>spec.replicas</c>).</param>
/// <param name="StatusReplicas">The current replicas (<c>status.replicas</c>).</param>
/// <param name="LabelSelector">The selector in string form, or null to derive it from <c>spec.selector</c>.</param>
public sealed record ScalePaths(string SpecReplicas, string StatusReplicas, string? LabelSelector)
{
    /// <summary>The paths of the built-in workload kinds.</summary>
    public static ScalePaths Default { get; } = new("spec.replicas", "status.replicas", null);
}

/// <summary>A table column a CRD declares.</summary>
/// <param name="Name">The header.</param>
/// <param name="Type">string, integer, number, boolean or date.</param>
/// <param name="JsonPath">A simple path into the object (<c>.spec.replicas</c>).</param>
/// <param name="Description">What it shows.</param>
/// <param name="Priority">0 for default columns, more for <c>-o wide</c>.</param>
public sealed record PrinterColumn(string Name, string Type, string JsonPath, string? Description, int Priority);
