using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources;

public sealed partial class ObjectRegistry
{
    /// <summary>The stored bytes of an object: its Kubernetes JSON without the resourceVersion.</summary>
    private static ReadOnlyMemory<byte> Encode<T>(T obj) => Encoding.UTF8.GetBytes(WithoutResourceVersion(ToNode(obj)));

    /// <summary>The object a stored version holds, with the version's mod revision as its resourceVersion.</summary>
    internal static T Decode<T>(StateKeyValue kv)
    {
        var obj = KubernetesJson.Deserialize<T>(Encoding.UTF8.GetString(kv.Value.Span));
        return WithResourceVersion(obj, kv.ModRevision);
    }

    private static T WithResourceVersion<T>(T obj, long revision)
    {
        if (obj is IMetadata<V1ObjectMeta> { Metadata: { } meta })
        {
            meta.ResourceVersion = revision.ToString(CultureInfo.InvariantCulture);
        }

        return obj;
    }

    private static JsonObject ToNode<T>(T obj) => JsonNode.Parse(KubernetesJson.Serialize(obj))!.AsObject();

    private static JsonObject ParseStored(StateKeyValue kv) => JsonNode.Parse(kv.Value.Span)!.AsObject();

    private static T Deserialize<T>(JsonObject node, long revision) => WithResourceVersion(KubernetesJson.Deserialize<T>(node.ToJsonString()), revision);

    private static string WithoutResourceVersion(JsonObject node)
    {
        (node["metadata"] as JsonObject)?.Remove("resourceVersion");
        return node.ToJsonString();
    }

    /// <summary>
    /// The new object of an update: what the client sent, with the server's metadata kept from
    /// the stored object, the status kept where it is a subresource, and the generation bumped
    /// when anything but metadata and status changed.
    /// </summary>
    private static JsonObject Merged(ResourceKind kind, JsonObject old, JsonObject sent)
    {
        var next = (JsonObject)sent.DeepClone();
        var oldMeta = old["metadata"] as JsonObject ?? [];
        var meta = next["metadata"] as JsonObject ?? [];
        next["metadata"] = meta;
        foreach (var field in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name" })
        {
            meta[field] = oldMeta[field]?.DeepClone();
            if (meta[field] is null)
            {
                meta.Remove(field);
            }
        }

        if (kind.HasStatus)
        {
            next["status"] = old["status"]?.DeepClone();
            if (next["status"] is null)
            {
                next.Remove("status");
            }
        }

        var generation = oldMeta["generation"]?.GetValue<long>() ?? 1;
        meta["generation"] = SpecOf(old) == SpecOf(next) ? generation : generation + 1;
        next["apiVersion"] = kind.ApiVersion;
        next["kind"] = kind.Kind;
        return next;
    }

    /// <summary>The stored object with the sent object's status; nothing else changes.</summary>
    private static JsonObject WithStatus(JsonObject old, JsonObject sent)
    {
        var next = (JsonObject)old.DeepClone();
        next["status"] = sent["status"]?.DeepClone();
        return next;
    }

    private static string SpecOf(JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        copy.Remove("metadata");
        copy.Remove("status");
        return copy.ToJsonString();
    }

    private static void Validate(ResourceKind kind, IKubernetesObject<V1ObjectMeta> obj)
    {
        var meta = obj.Metadata;
        var causes = new List<V1StatusCause>();
        if (string.IsNullOrEmpty(meta.Name))
        {
            causes.Add(Required("metadata.name", "name or generateName is required"));
        }
        else
        {
            foreach (var problem in NameValidation.Check(meta.Name, kind.NameRule))
            {
                causes.Add(new V1StatusCause { Reason = "FieldValueInvalid", Field = "metadata.name", Message = $"Invalid value: \"{meta.Name}\": {problem}" });
            }
        }

        if (kind.Namespaced && meta.NamespaceProperty is { } ns)
        {
            foreach (var problem in NameValidation.CheckLabel(ns))
            {
                causes.Add(new V1StatusCause { Reason = "FieldValueInvalid", Field = "metadata.namespace", Message = $"Invalid value: \"{ns}\": {problem}" });
            }
        }

        if (causes.Count > 0)
        {
            throw new InvalidException(kind.Group, kind.Kind, meta.Name ?? "", causes);
        }
    }

    private static V1StatusCause Required(string field, string message) =>
        new() { Reason = "FieldValueRequired", Field = field, Message = $"Required value: {message}" };

    private static InvalidException Invalid(ResourceKind kind, string name, V1StatusCause cause) => new(kind.Group, kind.Kind, name, [cause]);
}
