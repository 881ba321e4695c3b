using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>
/// How objects of one kind are written, as kube-apiserver's per-kind strategies say it: the
/// defaults a manifest may leave out, what the server owns in a new object, the checks every write
/// passes, and the fields the kind can be selected by. Built-in kinds, typed C# kinds and custom
/// resources each have one; registered through DI (<c>AddResourceStrategy</c>), the last
/// registration for a kind wins.
/// </summary>
public interface IResourceStrategy
{
    /// <summary>The API group of the kind (empty for the core group).</summary>
    string Group { get; }

    /// <summary>The kind (<c>Pod</c>).</summary>
    string Kind { get; }

    /// <summary>The fields, beyond <c>metadata.name</c> and <c>metadata.namespace</c>, that a field selector may name.</summary>
    IReadOnlyCollection<string> SelectableFields { get; }

    /// <summary>Fills in the defaults of fields left out, on every create and update (not on a status write).</summary>
    void Default(JsonObject obj);

    /// <summary>
    /// Makes a new object the server's before it is checked: the status of a kind with a status
    /// subresource is reset, and fields derived from the object's identity (a Job's selector) are set.
    /// Called once the name and uid are known.
    /// </summary>
    void PrepareForCreate(ResourceKind kind, JsonObject obj, string name, string uid);

    /// <summary>Adds a cause for each field that is invalid or missing; <paramref name="old"/> is the current object on an update, null on a create.</summary>
    void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes);
}
