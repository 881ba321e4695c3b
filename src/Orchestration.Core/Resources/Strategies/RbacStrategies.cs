using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>The checks RBAC's kinds share, in kube-apiserver's words.</summary>
internal static class RbacValidation
{
    /// <summary>The RBAC API group.</summary>
    public const string Group = "rbac.authorization.k8s.io";

    /// <summary>Each rule names verbs; resource rules name API groups; a namespaced Role has no non-resource rules.</summary>
    public static void CheckRules(JsonNode? rules, bool namespaced, string path, ICollection<V1StatusCause> causes)
    {
        if (rules is not JsonArray array)
        {
            return;
        }

        for (var i = 0; i < array.Count; i++)
        {
            var rule = array[i] as JsonObject ?? [];
            var at = $"{path}[{i}]";
            if (Count(rule["verbs"]) == 0)
            {
                causes.Add(ObjectValidation.Required($"{at}.verbs", "verbs must contain at least one value"));
            }

            var nonResource = Count(rule["nonResourceURLs"]) > 0;
            if (nonResource && namespaced)
            {
                causes.Add(ObjectValidation.InvalidValue($"{at}.nonResourceURLs", string.Join(",", Strings(rule["nonResourceURLs"])), "namespaced rules cannot apply to non-resource URLs"));
            }

            if (nonResource && (Count(rule["apiGroups"]) > 0 || Count(rule["resources"]) > 0 || Count(rule["resourceNames"]) > 0))
            {
                causes.Add(ObjectValidation.InvalidValue($"{at}.nonResourceURLs", string.Join(",", Strings(rule["nonResourceURLs"])), "rules cannot apply to both regular resources and non-resource URLs"));
            }

            if (!nonResource)
            {
                if (Count(rule["apiGroups"]) == 0)
                {
                    causes.Add(ObjectValidation.Required($"{at}.apiGroups", "resource rules must supply at least one api group"));
                }

                if (Count(rule["resources"]) == 0)
                {
                    causes.Add(ObjectValidation.Required($"{at}.resources", "resource rules must supply at least one resource"));
                }
            }
        }
    }

    /// <summary>A binding's roleRef and subjects; the roleRef cannot change once made.</summary>
    public static void CheckBinding(JsonObject obj, JsonObject? old, bool namespaced, ICollection<V1StatusCause> causes)
    {
        var roleRef = obj["roleRef"] as JsonObject;
        if (roleRef is null)
        {
            causes.Add(ObjectValidation.Required("roleRef", ""));
        }
        else
        {
            var apiGroup = roleRef["apiGroup"]?.ToString() ?? "";
            if (apiGroup != Group)
            {
                causes.Add(ObjectValidation.Unsupported("roleRef.apiGroup", apiGroup, Group));
            }

            var kind = roleRef["kind"]?.ToString() ?? "";
            string[] kinds = namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"];
            if (!kinds.Contains(kind))
            {
                causes.Add(ObjectValidation.Unsupported("roleRef.kind", kind, kinds));
            }

            var name = roleRef["name"]?.ToString() ?? "";
            if (name.Length == 0)
            {
                causes.Add(ObjectValidation.Required("roleRef.name", ""));
            }
            else
            {
                foreach (var problem in NameValidation.CheckPathSegment(name))
                {
                    causes.Add(ObjectValidation.InvalidValue("roleRef.name", name, problem));
                }
            }

            if (old?["roleRef"] is JsonObject was && !JsonNode.DeepEquals(was, roleRef))
            {
                causes.Add(ObjectValidation.InvalidValue("roleRef", $"{{APIGroup:{apiGroup}, Kind:{kind}, Name:{name}}}", "cannot change roleRef"));
            }
        }

        if (obj["subjects"] is JsonArray subjects)
        {
            for (var i = 0; i < subjects.Count; i++)
            {
                CheckSubject(subjects[i] as JsonObject ?? [], namespaced, $"subjects[{i}]", causes);
            }
        }
    }

    /// <summary>Subjects of kind User and Group are in the RBAC group when they leave it out (v1's defaulting).</summary>
    public static void DefaultSubjects(JsonObject obj)
    {
        if (obj["subjects"] is not JsonArray subjects)
        {
            return;
        }

        foreach (var subject in subjects.OfType<JsonObject>())
        {
            var kind = subject["kind"]?.ToString();
            if (kind is "User" or "Group" && string.IsNullOrEmpty(subject["apiGroup"]?.ToString()))
            {
                subject["apiGroup"] = Group;
            }
        }
    }

    private static void CheckSubject(JsonObject subject, bool namespaced, string at, ICollection<V1StatusCause> causes)
    {
        var name = subject["name"]?.ToString() ?? "";
        if (name.Length == 0)
        {
            causes.Add(ObjectValidation.Required($"{at}.name", ""));
        }

        var apiGroup = subject["apiGroup"]?.ToString() ?? "";
        switch (subject["kind"]?.ToString() ?? "")
        {
            case "ServiceAccount":
                if (apiGroup.Length > 0)
                {
                    causes.Add(ObjectValidation.Unsupported($"{at}.apiGroup", apiGroup, ""));
                }

                if (name.Length > 0)
                {
                    foreach (var problem in NameValidation.CheckSubdomain(name))
                    {
                        causes.Add(ObjectValidation.InvalidValue($"{at}.name", name, problem));
                    }
                }

                if (!namespaced && string.IsNullOrEmpty(subject["namespace"]?.ToString()))
                {
                    causes.Add(ObjectValidation.Required($"{at}.namespace", ""));
                }

                break;
            case "User" or "Group":
                if (apiGroup != Group)
                {
                    causes.Add(ObjectValidation.Unsupported($"{at}.apiGroup", apiGroup, Group));
                }

                break;
            case var other:
                causes.Add(ObjectValidation.Unsupported($"{at}.kind", other, "ServiceAccount", "User", "Group"));
                break;
        }
    }

    private static int Count(JsonNode? node) => node is JsonArray array ? array.Count : 0;

    private static IEnumerable<string> Strings(JsonNode? node) => node is JsonArray array ? array.Select(n => n?.ToString() ?? "") : [];
}

/// <summary>Roles: rules with verbs and API groups, and no non-resource URLs (a Role is namespaced).</summary>
public sealed class RoleStrategy() : ResourceStrategy(RbacValidation.Group, "Role")
{
    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        RbacValidation.CheckRules(obj["rules"], namespaced: true, "rules", causes);
    }
}

/// <summary>ClusterRoles: rules as a Role's, plus non-resource URLs; an aggregated one has its rules filled in by the aggregation controller.</summary>
public sealed class ClusterRoleStrategy() : ResourceStrategy(RbacValidation.Group, "ClusterRole")
{
    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        RbacValidation.CheckRules(obj["rules"], namespaced: false, "rules", causes);
    }
}

/// <summary>RoleBindings: a Role or ClusterRole by reference (fixed once made), and User, Group or ServiceAccount subjects.</summary>
public sealed class RoleBindingStrategy() : ResourceStrategy(RbacValidation.Group, "RoleBinding")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj) => RbacValidation.DefaultSubjects(obj);

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        RbacValidation.CheckBinding(obj, old, namespaced: true, causes);
    }
}

/// <summary>ClusterRoleBindings: a ClusterRole by reference (fixed once made); ServiceAccount subjects name their namespace.</summary>
public sealed class ClusterRoleBindingStrategy() : ResourceStrategy(RbacValidation.Group, "ClusterRoleBinding")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj) => RbacValidation.DefaultSubjects(obj);

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        RbacValidation.CheckBinding(obj, old, namespaced: false, causes);
    }
}
