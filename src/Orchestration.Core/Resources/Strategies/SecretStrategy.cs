using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>Secrets: type Opaque, <c>stringData</c> merged into <c>data</c> (it is write-only), valid keys.</summary>
public sealed class SecretStrategy() : ResourceStrategy("", "Secret", "type")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        obj["type"] ??= "Opaque";
        if (obj["stringData"] is JsonObject stringData)
        {
            // As Kubernetes does: stringData is a write-only convenience, merged into data.
            var data = obj["data"] as JsonObject ?? [];
            obj["data"] = data;
            foreach (var (key, value) in stringData)
            {
                data[key] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value?.ToString() ?? ""));
            }

            obj.Remove("stringData");
        }
    }

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ObjectValidation.CheckDataKeys(obj["data"] as JsonObject, "data", causes);
        ObjectValidation.CheckDataKeys(obj["stringData"] as JsonObject, "stringData", causes);
    }
}
