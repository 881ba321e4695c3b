using System.Text.Json.Nodes;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Validation;

/// <summary>
/// Finds and drops the fields an object's kind does not define: walked against the model type for
/// built-in kinds and against the openAPIV3Schema for custom ones (where
/// <c>x-kubernetes-preserve-unknown-fields</c> keeps a subtree as it is).
/// </summary>
public static class UnknownFields
{
    private static readonly HashSet<string> TopLevel = ["apiVersion", "kind", "metadata"];

    /// <summary>Removes the unknown fields from <paramref name="obj"/> and returns their paths (<c>spec.foo</c>).</summary>
    public static IReadOnlyList<string> Prune(ResourceKind kind, JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        var found = new List<string>();
        if (kind.ClrType is { } type)
        {
            PruneModel(type, obj, "", found);
        }
        else if (kind.Schema is { } schema)
        {
            if (obj["metadata"] is JsonObject meta)
            {
                PruneModel(typeof(k8s.Models.V1ObjectMeta), meta, "metadata.", found);
            }

            PruneSchema(schema, obj, "", found, topLevel: true);
        }

        return found;
    }

    private static void PruneModel(Type type, JsonObject obj, string path, List<string> found)
    {
        var fields = ModelFields.Of(type);
        foreach (var (name, value) in obj.ToList())
        {
            if (!fields.TryGetValue(name, out var field))
            {
                found.Add(path + name);
                obj.Remove(name);
                continue;
            }

            switch (field.Shape, value)
            {
                case (FieldShape.Object, JsonObject child):
                    PruneModel(field.Type, child, $"{path}{name}.", found);
                    break;
                case (FieldShape.List, JsonArray items) when ModelFields.IsObject(field.Element):
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonObject item)
                        {
                            PruneModel(field.Element, item, $"{path}{name}[{i}].", found);
                        }
                    }

                    break;
                case (FieldShape.Map, JsonObject map) when ModelFields.IsObject(field.Element):
                    foreach (var (key, entry) in map)
                    {
                        if (entry is JsonObject item)
                        {
                            PruneModel(field.Element, item, $"{path}{name}[{key}].", found);
                        }
                    }

                    break;
            }
        }
    }

    private static void PruneSchema(JsonObject schema, JsonNode? node, string path, List<string> found, bool topLevel = false)
    {
        if (schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true && schema["properties"] is null)
        {
            return;
        }

        switch (node)
        {
            case JsonObject obj when schema["properties"] is JsonObject properties:
                var preserve = schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() == true;
                foreach (var (name, value) in obj.ToList())
                {
                    if (topLevel && TopLevel.Contains(name))
                    {
                        continue;
                    }

                    if (properties[name] is JsonObject property)
                    {
                        PruneSchema(property, value, $"{path}{name}.", found);
                    }
                    else if (!preserve)
                    {
                        found.Add(path + name);
                        obj.Remove(name);
                    }
                }

                break;
            case JsonObject map when schema["additionalProperties"] is JsonObject values:
                foreach (var (key, value) in map)
                {
                    PruneSchema(values, value, $"{path}{key}.", found);
                }

                break;
            case JsonArray items when schema["items"] is JsonObject itemSchema:
                for (var i = 0; i < items.Count; i++)
                {
                    PruneSchema(itemSchema, items[i], $"{path.TrimEnd('.')}[{i}].", found);
                }

                break;
        }
    }
}
