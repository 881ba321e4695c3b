using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;

namespace Orchestration.Resources;

/// <summary>Converts between model objects and their Kubernetes JSON, with the model package's serializer settings.</summary>
public static class ObjectConversion
{
    private static readonly JsonSerializerOptions Options = CaptureOptions();

    /// <summary>The serializer settings of the Kubernetes models (quantities, int-or-string, times).</summary>
    public static JsonSerializerOptions SerializerOptions => Options;

    /// <summary>The object as a JSON tree.</summary>
    public static JsonObject ToNode<T>(T obj) =>
        JsonSerializer.SerializeToNode(obj, Options) as JsonObject ?? throw new ArgumentException($"{typeof(T).Name} does not serialize to a JSON object", nameof(obj));

    /// <summary>A deep copy of a model object (through its JSON form), sharing no lists or maps with it.</summary>
    public static T DeepCopy<T>(T obj)
        where T : class => ToObject<T>(ToNode(obj));

    /// <summary>The model object a JSON tree describes.</summary>
    /// <exception cref="Client.BadRequestException">A field has the wrong type.</exception>
    public static T ToObject<T>(JsonObject node)
    {
        try
        {
            return node.Deserialize<T>(Options) ?? throw new Client.BadRequestException($"the {typeof(T).Name} is empty");
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new Client.BadRequestException($"the {typeof(T).Name} is not valid: {ex.Message}", ex);
        }
    }

    /// <summary>Checks that a tree reads as the model type (the right JSON types in every known field).</summary>
    public static void CheckReadable(Type type, JsonObject node)
    {
        ArgumentNullException.ThrowIfNull(type);
        ArgumentNullException.ThrowIfNull(node);
        try
        {
            node.Deserialize(type, Options);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new Client.BadRequestException($"the object cannot be read as {type.Name}: {ex.Message}", ex);
        }
    }

    private static JsonSerializerOptions CaptureOptions()
    {
        // The model package keeps its serializer settings private; its hook for adding to them
        // hands us the instance it uses, which is the one way to read them without copying.
        JsonSerializerOptions? captured = null;
        KubernetesJson.AddJsonOptions(options => captured = options);
        return captured ?? throw new InvalidOperationException("the Kubernetes model serializer settings are not available");
    }
}
