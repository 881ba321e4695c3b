using k8s.Models;

namespace Orchestration.ApiServer.Security.Rbac;

/// <summary>
/// Kubernetes' default ClusterRoles and ClusterRoleBindings, the ones kube-apiserver reconciles at
/// start: <c>cluster-admin</c> for <c>system:masters</c>; discovery, self-reviews and public
/// information for every authenticated user; the user-facing <c>admin</c>, <c>edit</c> and
/// <c>view</c>, aggregated from <c>system:aggregate-to-*</c> (edit includes view, admin includes
/// edit) by the ClusterRole aggregation controller; the components' own roles, bound to the users
/// their credentials name (<c>system:kube-scheduler</c>, <c>system:kube-controller-manager</c>,
/// <c>system:kube-proxy</c>), and <c>system:node</c>, whose rules the Node authorizer applies to
/// every node's credential.
/// </summary>
public static class DefaultRbacPolicy
{
    /// <summary>The label kube-apiserver puts on the objects of its default policy.</summary>
    public const string BootstrappingLabel = "kubernetes.io/bootstrapping";

    /// <summary>The annotation that lets the server reconcile a default object (<c>"false"</c> keeps an administrator's edits).</summary>
    public const string AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate";

    private const string AggregateTo = "rbac.authorization.k8s.io/aggregate-to-";

    private static readonly string[] Read = ["get", "list", "watch"];
    private static readonly string[] Write = ["create", "delete", "deletecollection", "patch", "update"];

    /// <summary>The default ClusterRoles.</summary>
    public static IReadOnlyList<V1ClusterRole> ClusterRoles() =>
    [
        Role("cluster-admin", null, [Rule(["*"], ["*"], ["*"]), NonResource(["*"], ["*"])]),
        Role("system:discovery", null, [NonResource(["get"], ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"])]),
        Role("system:public-info-viewer", null, [NonResource(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])]),
        Role("system:basic-user", null,
        [
            Rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            Rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
        ]),
        Aggregated("admin", "admin", aggregateTo: null),
        Aggregated("edit", "edit", aggregateTo: "admin"),
        Aggregated("view", "view", aggregateTo: "edit"),
        Role("system:aggregate-to-admin", "admin",
        [
            Rule(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"], ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
            Rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
        ]),
        Role("system:aggregate-to-edit", "edit",
        [
            Rule([.. Write], [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
            Rule(["create"], [""], ["pods/eviction"]),
            Rule([.. Write], [""], ["configmaps", "endpoints", "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"]),
            Rule(["create"], [""], ["serviceaccounts/token"]),
            Rule([.. Read, .. Write], ["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"]),
            Rule([.. Read, .. Write], ["batch"], ["cronjobs", "jobs"]),
            Rule([.. Read, .. Write], ["autoscaling"], ["horizontalpodautoscalers"]),
            Rule([.. Read, .. Write], ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
            Rule([.. Read, .. Write], ["policy"], ["poddisruptionbudgets"]),
            Rule([.. Read, .. Write], ["discovery.k8s.io"], ["endpointslices"]),
            Rule(["get", "list", "watch"], [""], ["secrets"]),
            Rule(["impersonate"], [""], ["serviceaccounts"]),
        ]),
        Role("system:aggregate-to-view", "view",
        [
            Rule(Read, [""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"]),
            Rule(Read, [""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status", "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"]),
            Rule(Read, [""], ["namespaces"]),
            Rule(Read, ["discovery.k8s.io"], ["endpointslices"]),
            Rule(Read, ["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"]),
            Rule(Read, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
            Rule(Read, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
            Rule(Read, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
            Rule(Read, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
            Rule(Read, ["events.k8s.io"], ["events"]),
        ]),
        Role("system:node", null, [.. Authorization.NodeAuthorizer.NodeRules]),
        Role("system:node-proxier", null,
        [
            Rule(["list", "watch"], [""], ["endpoints", "services", "nodes"]),
            Rule(["get"], [""], ["nodes"]),
            Rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
            Rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
        ]),
        Role("system:kube-scheduler", null,
        [
            Rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
            Rule(["create"], ["coordination.k8s.io"], ["leases"]),
            Rule(["get", "update"], ["coordination.k8s.io"], ["leases"], ["kube-scheduler"]),
            Rule(Read, [""], ["nodes", "namespaces", "services", "replicationcontrollers", "persistentvolumeclaims", "persistentvolumes"]),
            Rule([.. Read, "delete"], [""], ["pods"]),
            Rule(["create"], [""], ["bindings", "pods/binding"]),
            Rule(["patch", "update"], [""], ["pods/status"]),
            Rule(Read, ["apps"], ["replicasets", "statefulsets"]),
            Rule(Read, ["policy"], ["poddisruptionbudgets"]),
            Rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            Rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
        ]),
        Role("system:kube-controller-manager", null,
        [
            // One identity runs every built-in controller here (kube gives each its own ServiceAccount):
            // it reads everything and writes the kinds its controllers own.
            Rule(Read, ["*"], ["*"]),
            Rule([.. Write], ["", "apps", "batch", "discovery.k8s.io", "coordination.k8s.io", "events.k8s.io", "rbac.authorization.k8s.io"], ["*"]),
            Rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
            Rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
        ]),
    ];

    /// <summary>The default ClusterRoleBindings.</summary>
    public static IReadOnlyList<V1ClusterRoleBinding> ClusterRoleBindings() =>
    [
        Binding("cluster-admin", "cluster-admin", "system:masters"),
        Binding("system:discovery", "system:discovery", "system:authenticated"),
        Binding("system:basic-user", "system:basic-user", "system:authenticated"),
        Binding("system:public-info-viewer", "system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
        UserBinding("system:kube-scheduler", "system:kube-scheduler", "system:kube-scheduler"),
        UserBinding("system:kube-controller-manager", "system:kube-controller-manager", "system:kube-controller-manager"),
        UserBinding("system:node-proxier", "system:node-proxier", "system:kube-proxy"),

        // As in kube, nodes get their rights from the Node authorizer: this binding has no subjects.
        Binding("system:node", "system:node"),
    ];

    private static V1ClusterRoleBinding UserBinding(string name, string role, string user)
    {
        var binding = Binding(name, role);
        binding.Subjects = [new Rbacv1Subject { ApiGroup = "rbac.authorization.k8s.io", Kind = "User", Name = user }];
        return binding;
    }

    private static V1ClusterRole Role(string name, string? aggregateTo, IList<V1PolicyRule> rules)
    {
        var role = new V1ClusterRole { ApiVersion = "rbac.authorization.k8s.io/v1", Kind = "ClusterRole", Metadata = Metadata(name), Rules = rules };
        if (aggregateTo is not null)
        {
            role.Metadata.Labels[AggregateTo + aggregateTo] = "true";
        }

        return role;
    }

    // A user-facing role whose rules are those of every ClusterRole labelled aggregate-to-NAME.
    private static V1ClusterRole Aggregated(string name, string from, string? aggregateTo)
    {
        var role = Role(name, aggregateTo, []);
        role.AggregationRule = new V1AggregationRule
        {
            ClusterRoleSelectors = [new V1LabelSelector { MatchLabels = new Dictionary<string, string> { [AggregateTo + from] = "true" } }],
        };
        return role;
    }

    private static V1ClusterRoleBinding Binding(string name, string role, params string[] groups) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = "ClusterRoleBinding",
        Metadata = Metadata(name),
        RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = role },
        Subjects = [.. groups.Select(g => new Rbacv1Subject { ApiGroup = "rbac.authorization.k8s.io", Kind = "Group", Name = g })],
    };

    private static V1ObjectMeta Metadata(string name) => new()
    {
        Name = name,
        Labels = new Dictionary<string, string> { [BootstrappingLabel] = "rbac-defaults" },
        Annotations = new Dictionary<string, string> { [AutoUpdateAnnotation] = "true" },
    };

    private static V1PolicyRule Rule(string[] verbs, string[] groups, string[] resources, string[]? names = null) => new() { Verbs = verbs, ApiGroups = groups, Resources = resources, ResourceNames = names };

    private static V1PolicyRule NonResource(string[] verbs, string[] urls) => new() { Verbs = verbs, NonResourceURLs = urls };
}
