using k8s.Models;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Security.Rbac;
using Orchestration.Client;
using Orchestration.Informers;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Security.Authorization;

/// <summary>
/// kube-apiserver's Node authorizer, for the credentials of nodes (user <c>system:node:NAME</c> in
/// group <c>system:nodes</c>): a node may read the Secrets, ConfigMaps and PersistentVolumeClaims that
/// the pods bound to it name, ask for tokens of their ServiceAccounts and write the status of those
/// pods, and nothing of another node's pods (<c>no relationship found between node 'a' and this
/// object</c>); beyond these, it holds the node rules (<see cref="NodeRules"/>: its Node, leases,
/// events, reading pods, Services and EndpointSlices for the node's proxy and DNS). Which node, lease
/// or pod a write may touch is NodeRestriction's to say. Other users get no opinion.
/// </summary>
public sealed class NodeAuthorizer(ObjectRegistry registry, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService, IAuthorizer, IRuleResolver
{
    /// <summary>The group every node's credential is in.</summary>
    public const string NodesGroup = "system:nodes";

    /// <summary>The prefix of a node's user name.</summary>
    public const string NodeUserPrefix = "system:node:";

    private const string NodeIndex = "spec.nodeName";

    private static readonly string[] Read = ["get", "list", "watch"];

    private readonly InformerFactory _informers = new(new LocalClusterClient(registry), timeProvider, loggers);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// What every node may do besides the objects its pods name: kube's node rules, with the reads its
    /// network proxy and cluster DNS need (a worker runs them on the node's credential).
    /// </summary>
    public static IReadOnlyList<V1PolicyRule> NodeRules { get; } =
    [
        Rule(["create", "get", "list", "watch", "update", "patch", "delete"], [""], ["nodes"]),
        Rule(["update", "patch"], [""], ["nodes/status"]),
        Rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"]),
        Rule([.. Read, "create", "delete"], [""], ["pods"]),
        Rule(["create"], [""], ["pods/eviction"]),
        Rule(Read, [""], ["services", "endpoints", "namespaces"]),
        Rule(Read, ["discovery.k8s.io"], ["endpointslices"]),
        Rule(["get"], [""], ["persistentvolumes"]),
        Rule(["create", "get", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
        Rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
        Rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
    ];

    /// <summary>The node a user is, or null when it is not a node's credential.</summary>
    public static string? NodeOf(string user, IReadOnlyList<string> groups)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(groups);
        return user.StartsWith(NodeUserPrefix, StringComparison.Ordinal) && user.Length > NodeUserPrefix.Length && groups.Contains(NodesGroup)
            ? user[NodeUserPrefix.Length..]
            : null;
    }

    /// <inheritdoc />
    public async ValueTask<AuthorizationDecision> AuthorizeAsync(AuthorizationAttributes attributes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(attributes);
        if (NodeOf(attributes.User.Name, attributes.User.Groups) is not { } node)
        {
            return AuthorizationDecision.NoOpinion();
        }

        if (!_synced.Task.IsCompleted)
        {
            await _synced.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        if (attributes.IsResourceRequest && attributes.ApiGroup.Length == 0 && Graphed(attributes) is { } relation)
        {
            return relation(node)
                ? AuthorizationDecision.Allowed($"Node: node '{node}' runs a pod that uses this object")
                : new AuthorizationDecision(AuthorizationVerdict.Deny, $"no relationship found between node '{node}' and this object");
        }

        return NodeRules.Any(rule => RbacAuthorizer.Covers(rule, attributes))
            ? AuthorizationDecision.Allowed("Node: allowed by the node rules")
            : AuthorizationDecision.NoOpinion();
    }

    /// <inheritdoc />
    public (IReadOnlyList<ResourceRuleInfo> Resources, IReadOnlyList<NonResourceRuleInfo> NonResources, bool Incomplete) RulesFor(UserInfo user, string @namespace)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (NodeOf(user.Name, user.Groups) is null)
        {
            return ([], [], false);
        }

        // The objects a node's pods name are not rules: the list is incomplete, as kube's says.
        return ([.. NodeRules.Select(r => new ResourceRuleInfo([.. r.Verbs], [.. r.ApiGroups], [.. r.Resources], []))], [], true);
    }

    /// <summary>Waits until the pods have been listed.</summary>
    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pods = _informers.For<V1Pod>();
        pods.Cache.AddIndex(NodeIndex, pod => pod.Spec?.NodeName is { Length: > 0 } name ? [name] : []);
        var running = _informers.RunAsync(stoppingToken);
        try
        {
            await pods.WaitForSyncAsync(stoppingToken).ConfigureAwait(false);
            _synced.TrySetResult();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _synced.TrySetCanceled(stoppingToken);
        }

        await running.ConfigureAwait(false);
    }

    // The requests decided by the node's pods: which objects they name, and whose status it writes.
    private Func<string, bool>? Graphed(AuthorizationAttributes a) => (a.Resource, a.Subresource, a.Verb) switch
    {
        ("secrets", "", "get") => node => PodsOn(node, a.Namespace).Any(p => Secrets(p).Contains(a.Name)),
        ("configmaps", "", "get") => node => PodsOn(node, a.Namespace).Any(p => ConfigMaps(p).Contains(a.Name)),
        ("persistentvolumeclaims", "", "get") => node => PodsOn(node, a.Namespace).Any(p => p.Spec.Volumes?.Any(v => v.PersistentVolumeClaim?.ClaimName == a.Name) == true),
        ("serviceaccounts", "token", "create") => node => PodsOn(node, a.Namespace).Any(p => (p.Spec.ServiceAccountName is { Length: > 0 } sa ? sa : "default") == a.Name),
        ("pods", "status", "update" or "patch") => node => _informers.For<V1Pod>().Cache.Get(a.Namespace, a.Name)?.Spec?.NodeName == node,
        ("secrets" or "configmaps" or "persistentvolumeclaims", "", _) => _ => false,
        _ => null,
    };

    private IEnumerable<V1Pod> PodsOn(string node, string @namespace) =>
        _informers.For<V1Pod>().Cache.ByIndex(NodeIndex, node).Where(p => p.Metadata.NamespaceProperty == @namespace);

    private static HashSet<string> Secrets(V1Pod pod) =>
        Named(pod, v => v.Secret?.SecretName, p => p.Secret?.Name, e => e.ValueFrom?.SecretKeyRef?.Name, f => f.SecretRef?.Name, (pod.Spec.ImagePullSecrets ?? []).Select(s => s.Name));

    private static HashSet<string> ConfigMaps(V1Pod pod) =>
        Named(pod, v => v.ConfigMap?.Name, p => p.ConfigMap?.Name, e => e.ValueFrom?.ConfigMapKeyRef?.Name, f => f.ConfigMapRef?.Name, []);

    // The objects of one kind a pod names: in its volumes, their projected sources, its containers' env and envFrom, and more.
    private static HashSet<string> Named(V1Pod pod, Func<V1Volume, string?> volume, Func<V1VolumeProjection, string?> projected, Func<V1EnvVar, string?> env, Func<V1EnvFromSource, string?> envFrom, IEnumerable<string?> more)
    {
        var names = (pod.Spec.Volumes ?? []).SelectMany(v => (v.Projected?.Sources ?? []).Select(projected).Append(volume(v)))
            .Concat(Containers(pod).SelectMany(c => (c.Env ?? []).Select(env).Concat((c.EnvFrom ?? []).Select(envFrom))))
            .Concat(more);
        return [.. names.Where(n => !string.IsNullOrEmpty(n)).Select(n => n!)];
    }

    private static IEnumerable<V1Container> Containers(V1Pod pod) => (pod.Spec.InitContainers ?? []).Concat(pod.Spec.Containers ?? []);

    private static V1PolicyRule Rule(string[] verbs, string[] groups, string[] resources) => new() { Verbs = verbs, ApiGroups = groups, Resources = resources };
}
