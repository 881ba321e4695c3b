using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources;

public sealed partial class ObjectRegistry
{
    private static readonly string[] ServerOwnedMetadata = ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name"];

    /// <summary>The stored bytes of an object at <paramref name="key"/>: its JSON without the resourceVersion, encrypted when the configuration says so.</summary>
    private byte[] Encode(string key, JsonObject obj) => Encryption.ToStorage(key, Encode(obj));

    /// <summary>An object's JSON without the resourceVersion.</summary>
    private static byte[] Encode(JsonObject obj)
    {
        var meta = obj["metadata"] as JsonObject;
        var rv = meta?["resourceVersion"];
        meta?.Remove("resourceVersion");
        try
        {
            return JsonSerializer.SerializeToUtf8Bytes(obj);
        }
        finally
        {
            if (rv is not null)
            {
                meta!["resourceVersion"] = rv;
            }
        }
    }

    /// <summary>The object a stored version holds, with the version's mod revision as its resourceVersion.</summary>
    internal JsonObject DecodeNode(StateKeyValue kv)
    {
        var node = JsonNode.Parse(Encryption.FromStorage(kv.Key, kv.Value).Span) as JsonObject
            ?? throw new StoreCorruptException($"the value at {kv.Key} is not a JSON object");
        return WithResourceVersion(node, kv.ModRevision);
    }

    private static JsonObject WithResourceVersion(JsonObject obj, long revision)
    {
        MetadataOf(obj)["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture);
        return obj;
    }

    /// <summary>The object's metadata, created when missing.</summary>
    public static JsonObject MetadataOf(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject meta)
        {
            return meta;
        }

        if (obj["metadata"] is not null)
        {
            throw new BadRequestException("metadata must be an object");
        }

        meta = [];
        obj["metadata"] = meta;
        return meta;
    }

    /// <summary>
    /// The new object of an update: what the client sent, with the server's metadata kept from
    /// the stored object, the status kept where it is a subresource, and the generation bumped
    /// when anything but metadata and status changed.
    /// </summary>
    private static JsonObject Merged(ResourceKind kind, JsonObject old, JsonObject sent)
    {
        var next = (JsonObject)sent.DeepClone();
        var oldMeta = MetadataOf(old);
        var meta = MetadataOf(next);
        foreach (var field in ServerOwnedMetadata)
        {
            if (oldMeta[field] is { } value)
            {
                meta[field] = value.DeepClone();
            }
            else
            {
                meta.Remove(field);
            }
        }

        if (kind.HasStatus)
        {
            if (old["status"] is { } status)
            {
                next["status"] = status.DeepClone();
            }
            else
            {
                next.Remove("status");
            }
        }

        var generation = oldMeta["generation"] is JsonValue g && g.TryGetValue<long>(out var gen) ? gen : 1;
        meta["generation"] = JsonNode.DeepEquals(WithoutMetaAndStatus(old), WithoutMetaAndStatus(next)) ? generation : generation + 1;
        next["apiVersion"] = kind.ApiVersion;
        next["kind"] = kind.Kind;
        return next;
    }

    /// <summary>The stored object with the sent object's status; nothing else changes.</summary>
    private static JsonObject WithStatus(JsonObject old, JsonObject sent)
    {
        var next = (JsonObject)old.DeepClone();
        if (sent["status"] is { } status)
        {
            next["status"] = status.DeepClone();
        }
        else
        {
            next.Remove("status");
        }

        return next;
    }

    private static JsonObject WithoutMetaAndStatus(JsonObject obj)
    {
        var copy = new JsonObject();
        foreach (var (name, value) in obj)
        {
            if (name is not ("metadata" or "status" or "apiVersion" or "kind"))
            {
                copy[name] = value?.DeepClone();
            }
        }

        return copy;
    }
}
