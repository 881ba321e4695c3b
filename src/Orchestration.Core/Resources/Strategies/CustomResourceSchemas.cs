using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>
/// Checks a custom object against its CRD's openAPIV3Schema: types, required fields, enums and
/// numeric and length bounds, with field causes as Kubernetes words them. Unknown fields are
/// pruned before this runs.
/// </summary>
public static class CustomResourceSchemas
{
    /// <summary>Adds what is wrong with <paramref name="obj"/> under <paramref name="schema"/> to <paramref name="causes"/>.</summary>
    public static void Validate(JsonObject schema, JsonObject obj, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(causes);
        foreach (var (name, value) in obj)
        {
            if (name is "apiVersion" or "kind" or "metadata")
            {
                continue;
            }

            if (schema["properties"]?[name] is JsonObject property)
            {
                Check(property, value, name, causes, depth: 0);
            }
        }

        foreach (var required in (schema["required"] as JsonArray ?? []).Select(r => r?.ToString()).Where(r => r is not null and not ("apiVersion" or "kind" or "metadata")))
        {
            if (!obj.ContainsKey(required!))
            {
                causes.Add(ObjectValidation.Required(required!, ""));
            }
        }
    }

    private static void Check(JsonObject schema, JsonNode? value, string path, ICollection<V1StatusCause> causes, int depth)
    {
        if (depth > 64 || (schema["x-kubernetes-preserve-unknown-fields"] is JsonValue preserve && preserve.TryGetValue<bool>(out var keep) && keep && schema["type"] is null))
        {
            return;
        }

        if (value is null)
        {
            if (!(schema["nullable"] is JsonValue nullable && nullable.TryGetValue<bool>(out var allowsNull) && allowsNull))
            {
                causes.Add(ObjectValidation.InvalidValue(path, "null", $"{path} in body must be of type {schema["type"]}"));
            }

            return;
        }

        if (schema["x-kubernetes-int-or-string"] is JsonValue intOrString && intOrString.TryGetValue<bool>(out var either) && either)
        {
            if (!(value is JsonValue v && (v.TryGetValue<string>(out _) || v.TryGetInt(out _))))
            {
                causes.Add(Type(path, value, "integer or string"));
            }

            return;
        }

        var type = schema["type"]?.ToString();
        switch (type)
        {
            case "object":
                if (value is not JsonObject obj)
                {
                    causes.Add(Type(path, value, "object"));
                    return;
                }

                foreach (var (name, child) in obj)
                {
                    var childSchema = schema["properties"]?[name] as JsonObject ?? schema["additionalProperties"] as JsonObject;
                    if (childSchema is not null)
                    {
                        Check(childSchema, child, $"{path}.{name}", causes, depth + 1);
                    }
                }

                foreach (var required in (schema["required"] as JsonArray ?? []).Select(r => r?.ToString()))
                {
                    if (required is not null && !obj.ContainsKey(required))
                    {
                        causes.Add(ObjectValidation.Required($"{path}.{required}", ""));
                    }
                }

                break;
            case "array":
                if (value is not JsonArray items)
                {
                    causes.Add(Type(path, value, "array"));
                    return;
                }

                if (schema["items"] is JsonObject itemSchema)
                {
                    for (var i = 0; i < items.Count; i++)
                    {
                        Check(itemSchema, items[i], $"{path}[{i}]", causes, depth + 1);
                    }
                }

                break;
            case "string":
                if (value is not JsonValue text || !text.TryGetValue<string>(out var str))
                {
                    causes.Add(Type(path, value, "string"));
                    return;
                }

                if (schema["maxLength"] is JsonValue max && max.TryGetInt(out var maxLength) && str.Length > maxLength)
                {
                    causes.Add(new V1StatusCause { Reason = "FieldValueTooLong", Field = path, Message = $"Too long: may not be more than {maxLength} bytes" });
                }

                break;
            case "integer":
                if (value is not JsonValue whole || !AsDouble(whole, out var d) || d != Math.Floor(d))
                {
                    causes.Add(Type(path, value, "integer"));
                    return;
                }

                CheckRange(schema, whole, path, causes);
                break;
            case "number":
                if (value is not JsonValue number || !AsDouble(number, out _))
                {
                    causes.Add(Type(path, value, "number"));
                    return;
                }

                CheckRange(schema, number, path, causes);
                break;
            case "boolean":
                if (value is not JsonValue flag || !flag.TryGetValue<bool>(out _))
                {
                    causes.Add(Type(path, value, "boolean"));
                }

                break;
        }

        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
        {
            causes.Add(ObjectValidation.Unsupported(path, value.ToJsonString(), allowed.Select(a => a?.ToJsonString() ?? "null").ToArray()));
        }
    }

    private static void CheckRange(JsonObject schema, JsonValue value, string path, ICollection<V1StatusCause> causes)
    {
        AsDouble(value, out var number);
        if (schema["minimum"] is JsonValue min && AsDouble(min, out var minimum) && number < minimum)
        {
            causes.Add(ObjectValidation.InvalidValue(path, number, $"{path} in body should be greater than or equal to {minimum}"));
        }

        if (schema["maximum"] is JsonValue max && AsDouble(max, out var maximum) && number > maximum)
        {
            causes.Add(ObjectValidation.InvalidValue(path, number, $"{path} in body should be less than or equal to {maximum}"));
        }
    }

    /// <summary>The number a JSON value holds, whatever numeric type it was read as.</summary>
    private static bool AsDouble(JsonValue value, out double number)
    {
        if (value.GetValueKind() != System.Text.Json.JsonValueKind.Number)
        {
            number = 0;
            return false;
        }

        if (value.TryGetValue(out number))
        {
            return true;
        }

        if (value.TryGetValue<long>(out var wide))
        {
            number = wide;
            return true;
        }

        if (value.TryGetValue<int>(out var narrow))
        {
            number = narrow;
            return true;
        }

        return double.TryParse(value.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out number);
    }

    private static V1StatusCause Type(string path, JsonNode value, string type) =>
        new() { Reason = "FieldValueTypeInvalid", Field = path, Message = $"Invalid value: \"{value.GetValueKind().ToString().ToLowerInvariant()}\": {path} in body must be of type {type}: \"{value.GetValueKind().ToString().ToLowerInvariant()}\"" };
}
