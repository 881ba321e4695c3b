using k8s;

namespace Orchestration.Client;

/// <summary>Which objects to list, and how many at a time.</summary>
public sealed record ListOptions
{
    /// <summary>A label selector (<c>app=web,tier!=db,env in (a,b),!legacy</c>).</summary>
    public string? LabelSelector { get; init; }

    /// <summary>A field selector (<c>metadata.name=x,spec.nodeName!=</c>).</summary>
    public string? FieldSelector { get; init; }

    /// <summary>At most this many items; 0 for all.</summary>
    public int Limit { get; init; }

    /// <summary>The continue token of the previous page.</summary>
    public string? Continue { get; init; }

    /// <summary>
    /// Which snapshot to list: null or "0" for the latest; with <see cref="ResourceVersionMatch"/>
    /// "Exact", exactly this revision (410 if compacted); otherwise one not older than it.
    /// </summary>
    public string? ResourceVersion { get; init; }

    /// <summary>"Exact" or "NotOlderThan" (the default when a resourceVersion is given).</summary>
    public string? ResourceVersionMatch { get; init; }
}

/// <summary>What to watch, and from where.</summary>
public sealed record WatchOptions
{
    /// <summary>A label selector.</summary>
    public string? LabelSelector { get; init; }

    /// <summary>A field selector.</summary>
    public string? FieldSelector { get; init; }

    /// <summary>Deliver changes after this resource version; null or "0" starts with the current objects.</summary>
    public string? ResourceVersion { get; init; }

    /// <summary>Whether to send <see cref="WatchEventType.Bookmark"/> events that carry only a resourceVersion to resume from.</summary>
    public bool AllowBookmarks { get; init; }

    /// <summary>
    /// Start with the current objects as Added events even when a resourceVersion is given, and
    /// mark their end with a bookmark annotated <c>k8s.io/initial-events-end</c>.
    /// </summary>
    public bool SendInitialEvents { get; init; }
}

/// <summary>A page of objects.</summary>
/// <param name="Items">The objects, ordered by namespace and name.</param>
/// <param name="ResourceVersion">The snapshot's resource version: watch from it to follow on.</param>
/// <param name="Continue">The token for the next page, or null on the last.</param>
public sealed record ObjectList<T>(IReadOnlyList<T> Items, string ResourceVersion, string? Continue);

/// <summary>One change of a watched object.</summary>
public sealed record ObjectEvent<T>(WatchEventType Type, T Object);

/// <summary>The kinds of patch a client can send.</summary>
public enum PatchKind
{
    /// <summary>RFC 7386 JSON merge patch (<c>application/merge-patch+json</c>).</summary>
    Merge,

    /// <summary>RFC 6902 JSON patch (<c>application/json-patch+json</c>).</summary>
    Json,

    /// <summary>Kubernetes strategic merge patch (<c>application/strategic-merge-patch+json</c>): lists merge by their keys.</summary>
    StrategicMerge,

    /// <summary>Server-side apply (<c>application/apply-patch+yaml</c>): the fields a manager owns.</summary>
    Apply,
}

/// <summary>A patch document and its kind.</summary>
/// <param name="Kind">How to read the body.</param>
/// <param name="Body">The patch document.</param>
/// <param name="FieldManager">Who is applying (server-side apply requires it).</param>
/// <param name="Force">Server-side apply: take fields other managers own instead of failing with a conflict.</param>
public sealed record ObjectPatch(PatchKind Kind, string Body, string? FieldManager = null, bool Force = false);

/// <summary>How to delete.</summary>
public sealed record DeleteOptions
{
    /// <summary>Delete only if the object still has this uid.</summary>
    public string? PreconditionUid { get; init; }

    /// <summary>Delete only if the object still has this resource version.</summary>
    public string? PreconditionResourceVersion { get; init; }

    /// <summary>Orphan, Background or Foreground; Foreground keeps the object (with a finalizer) until its dependents are gone.</summary>
    public string? PropagationPolicy { get; init; }

    /// <summary>
    /// How long a pod's containers get to stop, overriding its terminationGracePeriodSeconds; 0 deletes
    /// at once (the node agent's final delete, or <c>kubectl delete --grace-period=0 --force</c>).
    /// </summary>
    public long? GracePeriodSeconds { get; init; }
}
