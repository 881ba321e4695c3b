using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>Objects of a custom resource: checked against their definition's openAPIV3Schema (types, required fields, enums, bounds).</summary>
public class CustomResourceStrategy : ResourceStrategy
{
    /// <summary>A strategy for custom resources of any definition (the kind passed to each call carries its schema).</summary>
    public CustomResourceStrategy()
        : base("", "")
    {
    }

    /// <summary>A strategy of a custom resource's own, which keeps the schema check.</summary>
    protected CustomResourceStrategy(string group, string kind, params string[] selectableFields)
        : base(group, kind, selectableFields)
    {
    }

    /// <summary>The shared instance for custom resources without a strategy of their own.</summary>
    internal static CustomResourceStrategy Instance { get; } = new();

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (kind.Schema is { } schema)
        {
            CustomResourceSchemas.Validate(schema, obj, causes);
        }
    }
}
