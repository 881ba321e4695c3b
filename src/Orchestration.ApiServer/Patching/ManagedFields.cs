using System.Globalization;
using System.Text.Json.Nodes;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Patching;

/// <summary>
/// Field ownership for writes that are not applies (create, update, patch, scale): the writing
/// manager takes the fields it set or changed, with operation <c>Update</c>, and other managers
/// lose them, as Kubernetes records them. Server-side apply then sees these owners in its conflicts.
/// </summary>
internal static class ManagedFields
{
    /// <summary>Records in <paramref name="next"/> who owns what after a write by <paramref name="manager"/>.</summary>
    public static void RecordUpdate(ResourceKind kind, JsonObject? old, JsonObject next, string manager, string apiVersion, string? subresource, TimeProvider timeProvider)
    {
        var after = FieldSet.FromObject(kind.ClrType, next);
        var changed = after.Paths.Where(path =>
        {
            if (old is null)
            {
                return true;
            }

            var before = FieldSet.Resolve(old, path);
            return !before.Found || !JsonNode.DeepEquals(before.Value, FieldSet.Resolve(next, path).Value);
        }).ToHashSet(StringComparer.Ordinal);

        var entries = (old?["metadata"]?["managedFields"] as JsonArray ?? []).OfType<JsonObject>().Select(e => (JsonObject)e.DeepClone()).ToList();
        var result = new JsonArray();
        JsonObject? mine = null;
        foreach (var entry in entries)
        {
            var fields = FieldSet.FromFieldsV1(entry["fieldsV1"] as JsonObject);
            var isMine = entry["manager"]?.ToString() == manager && entry["operation"]?.ToString() == "Update" && entry["subresource"]?.ToString() == subresource;
            foreach (var path in fields.Paths.ToList())
            {
                // Fields that are gone belong to no one; changed ones now belong to the writer.
                if ((!isMine && changed.Contains(path)) || !after.Contains(path))
                {
                    fields.Remove(path);
                }
            }

            if (isMine)
            {
                mine = entry;
                foreach (var path in changed)
                {
                    fields.Add(path);
                }
            }

            if (fields.Count > 0)
            {
                entry["fieldsV1"] = fields.ToFieldsV1();
                result.Add(entry);
            }
        }

        if (mine is null && changed.Count > 0)
        {
            var entry = new JsonObject
            {
                ["manager"] = manager,
                ["operation"] = "Update",
                ["apiVersion"] = apiVersion,
                ["time"] = timeProvider.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                ["fieldsType"] = "FieldsV1",
                ["fieldsV1"] = FieldSet.Of(changed).ToFieldsV1(),
            };
            if (subresource is not null)
            {
                entry["subresource"] = subresource;
            }

            result.Add(entry);
        }
        else if (mine is not null && changed.Count > 0)
        {
            mine["time"] = timeProvider.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }

        ObjectRegistry.MetadataOf(next)["managedFields"] = result;
    }
}
