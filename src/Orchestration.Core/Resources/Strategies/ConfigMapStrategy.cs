using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>ConfigMaps: valid keys in <c>data</c> and <c>binaryData</c>.</summary>
public sealed class ConfigMapStrategy() : ResourceStrategy("", "ConfigMap")
{
    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ObjectValidation.CheckDataKeys(obj["data"] as JsonObject, "data", causes);
        ObjectValidation.CheckDataKeys(obj["binaryData"] as JsonObject, "binaryData", causes);
    }
}
