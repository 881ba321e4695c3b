namespace Orchestration.ApiServer.Routing;

/// <summary>
/// A resource request's path, split the way the Kubernetes API server splits it:
/// <c>/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}</c> or
/// <c>/apis/{group}/{version}/...</c>, where <c>namespaces/{name}</c> alone (or with its
/// <c>status</c> or <c>finalize</c> subresource) is the namespace object itself.
/// </summary>
/// <param name="Group">The API group; empty for the core group.</param>
/// <param name="Version">The version in the path.</param>
/// <param name="Namespace">The namespace, or null for cluster-wide requests.</param>
/// <param name="Resource">The resource (plural).</param>
/// <param name="Name">The object's name, or null for collections.</param>
/// <param name="Subresource">The subresource (<c>status</c>, <c>scale</c>, <c>binding</c>), or null.</param>
public sealed record ResourcePath(string Group, string Version, string? Namespace, string Resource, string? Name, string? Subresource)
{
    private static readonly HashSet<string> NamespaceSubresources = ["status", "finalize"];

    /// <summary>Splits the part of the path after the group and version; null when it names no resource.</summary>
    public static ResourcePath? Parse(string group, string version, string rest)
    {
        var parts = rest.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            return null;
        }

        string? ns = null;
        if (parts[0] == "namespaces" && parts.Length > 1)
        {
            ns = parts[1];
            if (parts.Length > 2 && !NamespaceSubresources.Contains(parts[2]))
            {
                parts = parts[2..];
            }
            else
            {
                ns = null;
            }
        }

        return parts.Length switch
        {
            1 => new ResourcePath(group, version, ns, parts[0], null, null),
            2 => new ResourcePath(group, version, ns, parts[0], parts[1], null),
            3 => new ResourcePath(group, version, ns, parts[0], parts[1], parts[2]),
            _ => null,
        };
    }
}
