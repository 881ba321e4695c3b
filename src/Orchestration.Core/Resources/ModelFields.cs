using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Serialization;

namespace Orchestration.Resources;

/// <summary>
/// The JSON fields of the Kubernetes model types, read once by reflection: which fields a type
/// has and what each holds. Strategic merge, unknown-field checks and the OpenAPI documents walk
/// objects with it.
/// </summary>
public static class ModelFields
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, ModelField>> Cache = new();

    /// <summary>The fields of a model type by JSON name; empty for types that are not JSON objects.</summary>
    public static IReadOnlyDictionary<string, ModelField> Of(Type type) => Cache.GetOrAdd(type, Read);

    /// <summary>The field of a model type with this JSON name, or null.</summary>
    public static ModelField? Find(Type? type, string jsonName) =>
        type is not null && Of(type).TryGetValue(jsonName, out var field) ? field : null;

    /// <summary>Whether a model type is a JSON object with named fields (not a scalar, list, map or free-form value).</summary>
    public static bool IsObject(Type type) =>
        type.Namespace == "k8s.Models" && type.IsClass && !IsScalarLike(type);

    private static bool IsScalarLike(Type type) =>
        type.Name is "IntOrString" or "ResourceQuantity" or "V1Time" or "V1MicroTime" or "V1Patch" or "RawExtension" ||
        type.GetProperties().Length == 0;

    private static IReadOnlyDictionary<string, ModelField> Read(Type type)
    {
        var fields = new Dictionary<string, ModelField>(StringComparer.Ordinal);
        if (!IsObject(type))
        {
            return fields;
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetCustomAttribute<JsonPropertyNameAttribute>() is not { } name)
            {
                continue;
            }

            var fieldType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var (shape, element) = Classify(fieldType);
            fields[name.Name] = new ModelField(name.Name, property, fieldType, shape, element);
        }

        return fields;
    }

    private static (FieldShape Shape, Type Element) Classify(Type type)
    {
        if (type != typeof(string) && type.IsGenericType)
        {
            var args = type.GetGenericArguments();
            var definition = type.GetGenericTypeDefinition();
            if (args.Length == 2 && (definition == typeof(IDictionary<,>) || definition == typeof(Dictionary<,>)))
            {
                return (FieldShape.Map, Nullable.GetUnderlyingType(args[1]) ?? args[1]);
            }

            if (args.Length == 1 && (definition == typeof(IList<>) || definition == typeof(List<>) || definition == typeof(IEnumerable<>) || definition == typeof(ICollection<>)))
            {
                return (FieldShape.List, Nullable.GetUnderlyingType(args[0]) ?? args[0]);
            }
        }

        return (IsObject(type) ? FieldShape.Object : FieldShape.Scalar, type);
    }
}

/// <summary>What a field holds.</summary>
public enum FieldShape
{
    /// <summary>A string, number, boolean, time, quantity or int-or-string.</summary>
    Scalar,

    /// <summary>A model object with named fields.</summary>
    Object,

    /// <summary>A list of <see cref="ModelField.Element"/>.</summary>
    List,

    /// <summary>A map from strings to <see cref="ModelField.Element"/>.</summary>
    Map,
}

/// <summary>One JSON field of a model type.</summary>
/// <param name="JsonName">The field's name in JSON.</param>
/// <param name="Property">The CLR property behind it (its XML docs describe it).</param>
/// <param name="Type">The property's type, without Nullable.</param>
/// <param name="Shape">Scalar, object, list or map.</param>
/// <param name="Element">For lists and maps the element type; otherwise the field's type.</param>
public sealed record ModelField(string JsonName, PropertyInfo Property, Type Type, FieldShape Shape, Type Element);
