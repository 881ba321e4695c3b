using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Orchestration.Resources;
using Orchestration.Resources.Patching;
using k8s.Models;

namespace Orchestration.ApiServer.OpenApi;

/// <summary>
/// Builds OpenAPI schemas of the model types by walking their JSON fields: one named schema per
/// type, referenced from its users, with descriptions, the group-version-kind of top-level kinds
/// and the merge keys of lists.
/// </summary>
internal sealed partial class SchemaBuilder(ModelDescriptions descriptions, string refPrefix)
{
    private readonly Dictionary<string, JsonObject> _schemas = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, JsonObject> Schemas => _schemas;

    /// <summary>The schema name of a model type (<c>io.k8s.api.v1.Deployment</c>).</summary>
    public static string NameOf(Type type)
    {
        var match = ModelName().Match(type.Name);
        return match.Success
            ? $"io.k8s.models.{(match.Groups[1].Value.Length > 0 ? match.Groups[1].Value.ToLowerInvariant() + "." : "")}{match.Groups[2].Value.ToLowerInvariant()}.{match.Groups[3].Value}"
            : $"io.k8s.models.{type.Name}";
    }

    /// <summary>Adds a top-level kind's schema (and everything it uses) and returns its name.</summary>
    public string AddKind(ResourceKind kind, string version)
    {
        if (kind.ClrType is { } type)
        {
            var name = Add(type);
            var schema = _schemas[name];
            var gvks = schema["x-kubernetes-group-version-kind"] as JsonArray ?? [];
            schema["x-kubernetes-group-version-kind"] = gvks;
            if (!gvks.Any(g => g?["kind"]?.ToString() == kind.Kind && g?["version"]?.ToString() == version && g?["group"]?.ToString() == kind.Group))
            {
                gvks.Add(Gvk(kind, version));
            }

            return name;
        }

        var customName = $"{string.Join(".", kind.Group.Split('.').Reverse())}.{version}.{kind.Kind}";
        var custom = (JsonObject?)kind.Schema?.DeepClone() ?? new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
        var properties = custom["properties"] as JsonObject ?? [];
        custom["properties"] = properties;
        properties["apiVersion"] ??= new JsonObject { ["type"] = "string", ["description"] = "APIVersion defines the versioned schema of this representation of an object." };
        properties["kind"] ??= new JsonObject { ["type"] = "string", ["description"] = "Kind is a string value representing the REST resource this object represents." };
        properties["metadata"] = Ref(Add(typeof(V1ObjectMeta)), "Standard object's metadata.");
        custom["x-kubernetes-group-version-kind"] = new JsonArray(Gvk(kind, version));
        _schemas[customName] = custom;
        return customName;
    }

    private static JsonObject Gvk(ResourceKind kind, string version) =>
        new() { ["group"] = kind.Group, ["kind"] = kind.Kind, ["version"] = version };

    /// <summary>Adds a model type's schema and returns its name.</summary>
    public string Add(Type type)
    {
        var name = NameOf(type);
        if (_schemas.ContainsKey(name))
        {
            return name;
        }

        var properties = new JsonObject();
        var schema = new JsonObject { ["description"] = descriptions.For(type), ["type"] = "object", ["properties"] = properties };
        _schemas[name] = schema;
        foreach (var (jsonName, field) in ModelFields.Of(type).OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var property = FieldSchema(field);
            property["description"] = descriptions.For(field.Property);
            if (field.Shape == FieldShape.List && MergeKeys.For(type, jsonName) is { Merges: true } merge)
            {
                property["x-kubernetes-patch-strategy"] = "merge";
                if (merge.Key is { } key)
                {
                    property["x-kubernetes-patch-merge-key"] = key;
                    property["x-kubernetes-list-type"] = "map";
                    property["x-kubernetes-list-map-keys"] = new JsonArray(key);
                }
                else
                {
                    property["x-kubernetes-list-type"] = "set";
                }
            }

            properties[jsonName] = property;
        }

        return name;
    }

    private JsonObject FieldSchema(ModelField field) => field.Shape switch
    {
        FieldShape.Object => Ref(Add(field.Type), null),
        FieldShape.List => new JsonObject { ["type"] = "array", ["items"] = ElementSchema(field.Element) },
        FieldShape.Map => new JsonObject { ["type"] = "object", ["additionalProperties"] = ElementSchema(field.Element) },
        _ => Scalar(field.Type),
    };

    private JsonObject ElementSchema(Type element) =>
        ModelFields.IsObject(element) ? new JsonObject { ["$ref"] = refPrefix + Add(element) } : Scalar(element);

    private JsonObject Ref(string name, string? description)
    {
        // Kubernetes wraps references in allOf so a description can sit beside them.
        var schema = new JsonObject { ["allOf"] = new JsonArray(new JsonObject { ["$ref"] = refPrefix + name }) };
        if (description is not null)
        {
            schema["description"] = description;
        }

        return schema;
    }

    private static JsonObject Scalar(Type type) => type.Name switch
    {
        "String" => new JsonObject { ["type"] = "string" },
        "Int32" => new JsonObject { ["type"] = "integer", ["format"] = "int32" },
        "Int64" => new JsonObject { ["type"] = "integer", ["format"] = "int64" },
        "Boolean" => new JsonObject { ["type"] = "boolean" },
        "Double" or "Single" => new JsonObject { ["type"] = "number", ["format"] = "double" },
        "DateTime" or "DateTimeOffset" or "V1Time" => new JsonObject { ["type"] = "string", ["format"] = "date-time" },
        "V1MicroTime" => new JsonObject { ["type"] = "string", ["format"] = "date-time" },
        "Byte[]" => new JsonObject { ["type"] = "string", ["format"] = "byte" },
        "IntOrString" or "ResourceQuantity" => new JsonObject { ["x-kubernetes-int-or-string"] = true },
        _ => new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true },
    };

    [GeneratedRegex("^([A-Z][a-z]+)?(V[0-9]+(?:alpha[0-9]+|beta[0-9]+)?|v[0-9]+(?:alpha[0-9]+|beta[0-9]+)?)([A-Z].*)$")]
    private static partial Regex ModelName();
}
