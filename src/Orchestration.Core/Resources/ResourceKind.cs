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

    /// <summary>The CLR type objects are read into.</summary>
    public required Type ClrType { get; init; }

    /// <summary>Short names kubectl accepts (<c>deploy</c>).</summary>
    public IReadOnlyList<string> ShortNames { get; init; } = [];

    /// <summary>Whether status is a subresource: a main update keeps the status, a status update changes only it.</summary>
    public bool HasStatus { get; init; }

    /// <summary>How names are checked.</summary>
    public NameRule NameRule { get; init; } = NameRule.Subdomain;

    /// <summary><c>group/version</c>, or the version alone for the core group.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The lowercase singular name.</summary>
    public string Singular => Kind.ToLowerInvariant();

    /// <summary>The group as store keys spell it: "core" for the core group.</summary>
    public string StoreGroup => Group.Length == 0 ? "core" : Group;

    /// <summary>A kind described by its model type's <see cref="KubernetesEntityAttribute"/>.</summary>
    public static ResourceKind For<T>(bool namespaced, bool hasStatus = false, NameRule nameRule = NameRule.Subdomain, params string[] shortNames)
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
        };
    }
}
