using k8s;
using k8s.Models;

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
}

/// <summary>A patch document and its kind.</summary>
public sealed record ObjectPatch(PatchKind Kind, string Body);

/// <summary>How to delete.</summary>
public sealed record DeleteOptions
{
    /// <summary>Delete only if the object still has this uid.</summary>
    public string? PreconditionUid { get; init; }

    /// <summary>Delete only if the object still has this resource version.</summary>
    public string? PreconditionResourceVersion { get; init; }

    /// <summary>Orphan, Background or Foreground; Foreground keeps the object (with a finalizer) until its dependents are gone.</summary>
    public string? PropagationPolicy { get; init; }
}
