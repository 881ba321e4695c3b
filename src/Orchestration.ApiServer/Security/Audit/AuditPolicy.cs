using System.Text.Json.Nodes;
using Orchestration.ApiServer.Security.Authorization;

namespace Orchestration.ApiServer.Security.Audit;

/// <summary>How much of a request the audit log records, as kube-apiserver's audit levels.</summary>
public enum AuditLevel
{
    /// <summary>Nothing.</summary>
    None,

    /// <summary>Who, what, when and the outcome, without bodies.</summary>
    Metadata,

    /// <summary>Metadata and the request's body.</summary>
    Request,

    /// <summary>Metadata and both bodies.</summary>
    RequestResponse,
}

/// <summary>
/// An audit policy (audit.k8s.io/v1 <c>Policy</c>): rules matched in order, the first that matches a
/// request setting its level (none matching: <see cref="AuditLevel.None"/>); each rule may name
/// users, userGroups, verbs, resources (group, resources, resourceNames; <c>*</c> and
/// <c>pods/log</c> forms), namespaces and nonResourceURLs (a trailing <c>*</c> matching a prefix).
/// <c>omitStages</c>, at the top or on a rule, leaves out <c>RequestReceived</c> or
/// <c>ResponseComplete</c> events.
/// </summary>
public sealed class AuditPolicy
{
    private readonly List<Rule> _rules;
    private readonly HashSet<string> _omitStages;

    private AuditPolicy(List<Rule> rules, HashSet<string> omitStages)
    {
        _rules = rules;
        _omitStages = omitStages;
    }

    /// <summary>Reads a policy given as a JSON object (a YAML file parsed).</summary>
    /// <exception cref="FormatException">The policy is not valid; the message says where.</exception>
    public static AuditPolicy Parse(JsonObject policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy["kind"]?.ToString() != "Policy")
        {
            throw new FormatException("the audit policy's kind must be Policy");
        }

        var rules = new List<Rule>();
        var array = policy["rules"] as JsonArray ?? throw new FormatException("rules: the audit policy has no rules");
        for (var i = 0; i < array.Count; i++)
        {
            var rule = array[i] as JsonObject ?? throw new FormatException($"rules[{i}]: must be an object");
            var levelText = rule["level"]?.ToString() ?? "";
            if (!Enum.TryParse<AuditLevel>(levelText, ignoreCase: false, out var level) || !Enum.IsDefined(level))
            {
                throw new FormatException($"rules[{i}].level: \"{levelText}\" is not None, Metadata, Request or RequestResponse");
            }

            rules.Add(new Rule(
                level,
                Strings(rule["users"]),
                Strings(rule["userGroups"]),
                Strings(rule["verbs"]),
                (rule["resources"] as JsonArray ?? []).OfType<JsonObject>().Select(r => new ResourceMatch(r["group"]?.ToString() ?? "", Strings(r["resources"]), Strings(r["resourceNames"]))).ToList(),
                Strings(rule["namespaces"]),
                Strings(rule["nonResourceURLs"]),
                [.. Strings(rule["omitStages"])]));
        }

        return new AuditPolicy(rules, [.. Strings(policy["omitStages"])]);
    }

    /// <summary>The level of a request, and the stages it leaves out.</summary>
    public (AuditLevel Level, IReadOnlySet<string> OmitStages) Evaluate(AuthorizationAttributes attributes)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        foreach (var rule in _rules)
        {
            if (rule.Matches(attributes))
            {
                return (rule.Level, rule.OmitStages.Count == 0 ? _omitStages : [.. _omitStages, .. rule.OmitStages]);
            }
        }

        return (AuditLevel.None, _omitStages);
    }

    private static List<string> Strings(JsonNode? node) => node is JsonArray array ? [.. array.Select(n => n?.ToString() ?? "")] : [];

    private sealed record ResourceMatch(string Group, List<string> Resources, List<string> Names);

    private sealed record Rule(AuditLevel Level, List<string> Users, List<string> Groups, List<string> Verbs, List<ResourceMatch> Resources, List<string> Namespaces, List<string> NonResourceUrls, HashSet<string> OmitStages)
    {
        public bool Matches(AuthorizationAttributes request)
        {
            if ((Users.Count > 0 && !Users.Contains(request.User.Name))
                || (Groups.Count > 0 && !Groups.Any(request.User.InGroup))
                || (Verbs.Count > 0 && !Verbs.Contains(request.Verb)))
            {
                return false;
            }

            if (!request.IsResourceRequest)
            {
                // A rule about resources or namespaces is not about paths; one about paths needs a match.
                return Resources.Count == 0 && Namespaces.Count == 0
                    && (NonResourceUrls.Count == 0 || NonResourceUrls.Any(u => u == "*" || u == request.Path || (u.EndsWith('*') && request.Path.StartsWith(u[..^1], StringComparison.Ordinal))));
            }

            if (NonResourceUrls.Count > 0 || (Namespaces.Count > 0 && !Namespaces.Contains(request.Namespace)))
            {
                return false;
            }

            return Resources.Count == 0 || Resources.Any(r => r.Group == request.ApiGroup
                && (r.Resources.Count == 0 || r.Resources.Any(x => x == "*" || x == request.ResourceWithSubresource || (request.Subresource.Length > 0 && (x == $"*/{request.Subresource}" || x == $"{request.Resource}/*"))))
                && (r.Names.Count == 0 || r.Names.Contains(request.Name)));
        }
    }
}
