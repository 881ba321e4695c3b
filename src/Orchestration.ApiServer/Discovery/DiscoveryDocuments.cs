using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Discovery;

/// <summary>
/// The discovery documents kubectl reads to learn what the server serves, built from the kind
/// table on every request (custom kinds come and go): the legacy documents (<c>/api</c>,
/// <c>/apis</c>, per group-version resource lists) and the aggregated ones
/// (<c>apidiscovery.k8s.io</c> v2 and v2beta1, chosen by the Accept header).
/// </summary>
public sealed class DiscoveryDocuments(ResourceKindTable kinds)
{
    private static readonly string[] AllVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
    private static readonly string[] SubresourceVerbs = ["get", "patch", "update"];

    /// <summary>Which aggregated discovery version the request accepts, or null for the legacy documents.</summary>
    public static string? AggregatedVersion(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        foreach (var entry in request.Headers.Accept.ToString().Split(','))
        {
            if (entry.Contains("as=APIGroupDiscoveryList", StringComparison.Ordinal) && entry.Contains("g=apidiscovery.k8s.io", StringComparison.Ordinal))
            {
                if (entry.Contains("v=v2beta1", StringComparison.Ordinal))
                {
                    return "v2beta1";
                }

                if (entry.Contains("v=v2", StringComparison.Ordinal))
                {
                    return "v2";
                }
            }
        }

        return null;
    }

    /// <summary>The content type of an aggregated document.</summary>
    public static string AggregatedContentType(string version) => $"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList";

    /// <summary><c>/api</c>: the core group's versions.</summary>
    public static JsonObject CoreVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    /// <summary><c>/apis</c>: every named group with its versions.</summary>
    public JsonObject Groups()
    {
        var groups = new JsonArray();
        foreach (var (group, versions) in NamedGroups())
        {
            groups.Add(GroupDocument(group, versions));
        }

        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }

    /// <summary><c>/apis/{group}</c>: one group, or null when it is not served.</summary>
    public JsonObject? Group(string group)
    {
        var match = NamedGroups().FirstOrDefault(g => g.Group == group);
        return match.Group is null ? null : GroupDocument(match.Group, match.Versions);
    }

    /// <summary>The resource list of a group-version, or null when nothing is served there.</summary>
    public JsonObject? Resources(string group, string version)
    {
        var served = Served(group, version);
        if (served.Count == 0)
        {
            return null;
        }

        var resources = new JsonArray();
        foreach (var kind in served)
        {
            var resource = new JsonObject
            {
                ["name"] = kind.Plural,
                ["singularName"] = kind.Singular,
                ["namespaced"] = kind.Namespaced,
                ["kind"] = kind.Kind,
                ["verbs"] = Strings(kind.Verbs ?? AllVerbs),
            };
            if (kind.ShortNames.Count > 0)
            {
                resource["shortNames"] = Strings(kind.ShortNames);
            }

            if (kind.Categories.Count > 0)
            {
                resource["categories"] = Strings(kind.Categories);
            }

            resources.Add(resource);
            foreach (var (sub, subGroup, subVersion, subKind, verbs) in Subresources(kind, version))
            {
                var entry = new JsonObject { ["name"] = $"{kind.Plural}/{sub}", ["singularName"] = "", ["namespaced"] = kind.Namespaced, ["kind"] = subKind, ["verbs"] = Strings(verbs) };
                if (subGroup != group || subVersion != version)
                {
                    entry["group"] = subGroup;
                    entry["version"] = subVersion;
                }

                resources.Add(entry);
            }
        }

        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }

    /// <summary>The aggregated document of the core group (<paramref name="core"/>) or of all named groups.</summary>
    public JsonObject Aggregated(bool core, string discoveryVersion)
    {
        var items = new JsonArray();
        var groups = core ? [("", (IReadOnlyList<string>)["v1"])] : NamedGroups();
        foreach (var (group, versions) in groups)
        {
            var versionDocs = new JsonArray();
            foreach (var version in versions)
            {
                var resources = new JsonArray();
                foreach (var kind in Served(group, version))
                {
                    var resource = new JsonObject
                    {
                        ["resource"] = kind.Plural,
                        ["responseKind"] = new JsonObject { ["group"] = group, ["version"] = version, ["kind"] = kind.Kind },
                        ["scope"] = kind.Namespaced ? "Namespaced" : "Cluster",
                        ["singularResource"] = kind.Singular,
                        ["verbs"] = Strings(kind.Verbs ?? AllVerbs),
                    };
                    if (kind.ShortNames.Count > 0)
                    {
                        resource["shortNames"] = Strings(kind.ShortNames);
                    }

                    if (kind.Categories.Count > 0)
                    {
                        resource["categories"] = Strings(kind.Categories);
                    }

                    var subresources = new JsonArray();
                    foreach (var (sub, subGroup, subVersion, subKind, verbs) in Subresources(kind, version))
                    {
                        subresources.Add(new JsonObject
                        {
                            ["subresource"] = sub,
                            ["responseKind"] = new JsonObject { ["group"] = subGroup, ["version"] = subVersion, ["kind"] = subKind },
                            ["verbs"] = Strings(verbs),
                        });
                    }

                    if (subresources.Count > 0)
                    {
                        resource["subresources"] = subresources;
                    }

                    resources.Add(resource);
                }

                versionDocs.Add(new JsonObject { ["version"] = version, ["resources"] = resources, ["freshness"] = "Current" });
            }

            items.Add(new JsonObject { ["metadata"] = new JsonObject { ["name"] = group }, ["versions"] = versionDocs });
        }

        return new JsonObject
        {
            ["kind"] = "APIGroupDiscoveryList",
            ["apiVersion"] = $"apidiscovery.k8s.io/{discoveryVersion}",
            ["metadata"] = new JsonObject(),
            ["items"] = items,
        };
    }

    private static IEnumerable<(string Name, string Group, string Version, string Kind, string[] Verbs)> Subresources(ResourceKind kind, string version)
    {
        if (kind.HasStatus)
        {
            yield return ("status", kind.Group, version, kind.Kind, SubresourceVerbs);
        }

        if (kind.HasScale)
        {
            yield return ("scale", "autoscaling", "v1", "Scale", SubresourceVerbs);
        }

        if (kind.ExtraSubresources.Contains("binding"))
        {
            yield return ("binding", "", "v1", "Binding", ["create"]);
        }

        if (kind.ExtraSubresources.Contains("token"))
        {
            yield return ("token", "authentication.k8s.io", "v1", "TokenRequest", ["create"]);
        }

        // As kube-apiserver lists them: logs are read, the streams are connected to.
        if (kind.ExtraSubresources.Contains("log"))
        {
            yield return ("log", "", "v1", "Pod", ["get"]);
        }

        foreach (var stream in new[] { "attach", "exec", "portforward" }.Where(kind.ExtraSubresources.Contains))
        {
            yield return (stream, "", "v1", stream == "portforward" ? "PodPortForwardOptions" : stream == "exec" ? "PodExecOptions" : "PodAttachOptions", ["create", "get"]);
        }
    }

    private static JsonObject GroupDocument(string group, IReadOnlyList<string> versions)
    {
        var versionDocs = new JsonArray(versions.Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{group}/{v}", ["version"] = v }).ToArray());
        return new JsonObject
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = group,
            ["versions"] = versionDocs,
            ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{group}/{versions[0]}", ["version"] = versions[0] },
        };
    }

    /// <summary>The named groups in a stable order, each with its versions, preferred first.</summary>
    public IReadOnlyList<(string Group, IReadOnlyList<string> Versions)> NamedGroups() =>
        kinds.Kinds
            .Where(k => k.Group.Length > 0)
            .GroupBy(k => k.Group)
            .OrderBy(g => g.Any(k => k.ClrType is null) ? 1 : 0)
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, (IReadOnlyList<string>)g.SelectMany(k => k.ServedVersions).Distinct().OrderByDescending(VersionPriority).ToList()))
            .ToList();

    private List<ResourceKind> Served(string group, string version) =>
        kinds.Kinds.Where(k => k.Group == group && k.ServedVersions.Contains(version)).OrderBy(k => k.Plural, StringComparer.Ordinal).ToList();

    /// <summary>Kubernetes's version order: GA over beta over alpha, higher numbers first.</summary>
    private static int VersionPriority(string version)
    {
        var match = System.Text.RegularExpressions.Regex.Match(version, "^v([0-9]+)(?:(alpha|beta)([0-9]+))?$");
        if (!match.Success)
        {
            return 0;
        }

        var major = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var stage = match.Groups[2].Value switch { "" => 3, "beta" => 2, _ => 1 };
        var minor = match.Groups[3].Success && match.Groups[3].Value.Length > 0 ? int.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        return (stage * 1_000_000) + (major * 1000) + minor;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray());
}
