using k8s.Models;

namespace Orchestration.Resources.Patching;

/// <summary>
/// How the lists of the built-in types merge in a strategic merge patch and in server-side apply:
/// the <c>patchMergeKey</c> and <c>patchStrategy</c> tags of the Kubernetes API types. Lists not
/// named here are atomic: a patch replaces them whole.
/// </summary>
public static class MergeKeys
{
    private static readonly Dictionary<(Type, string), ListMerge> Table = new()
    {
        [(typeof(V1ObjectMeta), "finalizers")] = ListMerge.Set,
        [(typeof(V1ObjectMeta), "ownerReferences")] = ListMerge.ByKey("uid"),
        [(typeof(V1PodSpec), "containers")] = ListMerge.ByKey("name"),
        [(typeof(V1PodSpec), "initContainers")] = ListMerge.ByKey("name"),
        [(typeof(V1PodSpec), "ephemeralContainers")] = ListMerge.ByKey("name"),
        [(typeof(V1PodSpec), "volumes")] = ListMerge.ByKey("name"),
        [(typeof(V1PodSpec), "imagePullSecrets")] = ListMerge.ByKey("name"),
        [(typeof(V1PodSpec), "hostAliases")] = ListMerge.ByKey("ip"),
        [(typeof(V1PodSpec), "topologySpreadConstraints")] = ListMerge.ByKey("topologyKey"),
        [(typeof(V1PodSpec), "resourceClaims")] = ListMerge.ByKey("name"),
        [(typeof(V1PodSpec), "schedulingGates")] = ListMerge.ByKey("name"),
        [(typeof(V1Container), "ports")] = ListMerge.ByKey("containerPort"),
        [(typeof(V1Container), "env")] = ListMerge.ByKey("name"),
        [(typeof(V1Container), "volumeMounts")] = ListMerge.ByKey("mountPath"),
        [(typeof(V1Container), "volumeDevices")] = ListMerge.ByKey("devicePath"),
        [(typeof(V1EphemeralContainer), "ports")] = ListMerge.ByKey("containerPort"),
        [(typeof(V1EphemeralContainer), "env")] = ListMerge.ByKey("name"),
        [(typeof(V1EphemeralContainer), "volumeMounts")] = ListMerge.ByKey("mountPath"),
        [(typeof(V1PodStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1PodStatus), "podIPs")] = ListMerge.ByKey("ip"),
        [(typeof(V1ServiceSpec), "ports")] = ListMerge.ByKey("port"),
        [(typeof(V1NodeSpec), "podCIDRs")] = ListMerge.Set,
        [(typeof(V1NodeStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1NodeStatus), "addresses")] = ListMerge.ByKey("type"),
        [(typeof(V1NamespaceStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1DeploymentStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1ReplicaSetStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1DaemonSetStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1StatefulSetStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1JobStatus), "conditions")] = ListMerge.ByKey("type"),
        [(typeof(V1ServiceStatus), "conditions")] = ListMerge.ByKey("type"),
    };

    /// <summary>How the list field <paramref name="jsonName"/> of <paramref name="owner"/> merges.</summary>
    public static ListMerge For(Type? owner, string jsonName) =>
        owner is not null && Table.TryGetValue((owner, jsonName), out var merge) ? merge : ListMerge.Atomic;
}

/// <summary>How a list merges: replaced whole, as a set of scalars, or element by element by a key field.</summary>
/// <param name="Key">The merge key, for lists of objects that merge by key.</param>
/// <param name="IsSet">Whether the list is a set of scalars that merge by value.</param>
public sealed record ListMerge(string? Key, bool IsSet)
{
    /// <summary>Replaced whole.</summary>
    public static ListMerge Atomic { get; } = new(null, false);

    /// <summary>A set of scalars.</summary>
    public static ListMerge Set { get; } = new(null, true);

    /// <summary>Whether the list merges at all.</summary>
    public bool Merges => Key is not null || IsSet;

    /// <summary>Objects merged by a key field.</summary>
    public static ListMerge ByKey(string key) => new(key, false);
}
