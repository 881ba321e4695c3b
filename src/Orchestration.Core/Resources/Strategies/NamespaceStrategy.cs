using System.Text.Json.Nodes;

namespace Orchestration.Resources.Strategies;

/// <summary>Namespaces: phase Active, and on create the <c>kubernetes</c> finalizer, so the namespace controller empties a namespace before it goes.</summary>
public sealed class NamespaceStrategy() : ResourceStrategy("", "Namespace", "status.phase")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        if ((obj["status"] as JsonObject)?["phase"] is null)
        {
            obj["status"] = new JsonObject { ["phase"] = "Active" };
        }

        if ((obj["metadata"] as JsonObject)?["deletionTimestamp"] is null && (obj["metadata"] as JsonObject)?["resourceVersion"] is null)
        {
            // On create: the namespace controller empties a namespace before it goes.
            var spec = obj["spec"] as JsonObject ?? [];
            obj["spec"] = spec;
            spec["finalizers"] ??= new JsonArray("kubernetes");
        }
    }
}
