using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>
/// A strategy that defaults nothing, checks nothing of its own and resets the status of a new
/// object when its kind has a status subresource; built-in strategies derive from it and say only
/// what their kind adds.
/// </summary>
/// <param name="group">The API group of the kind.</param>
/// <param name="kind">The kind.</param>
/// <param name="selectableFields">The fields a field selector may name, beyond the name and namespace.</param>
public class ResourceStrategy(string group, string kind, params string[] selectableFields) : IResourceStrategy
{
    /// <summary>The strategy of a kind with no rules of its own.</summary>
    internal static ResourceStrategy Plain { get; } = new("", "");

    /// <inheritdoc />
    public string Group { get; } = group;

    /// <inheritdoc />
    public string Kind { get; } = kind;

    /// <inheritdoc />
    public IReadOnlyCollection<string> SelectableFields { get; } = selectableFields;

    /// <inheritdoc />
    public virtual void Default(JsonObject obj)
    {
    }

    /// <inheritdoc />
    public virtual void PrepareForCreate(ResourceKind kind, JsonObject obj, string name, string uid)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        if (kind.HasStatus)
        {
            // As Kubernetes's create strategies do: the status of a new object is the server's.
            obj.Remove("status");
        }
    }

    /// <inheritdoc />
    public virtual void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
    }
}
