using System.Globalization;
using System.Text.Json.Nodes;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Patching;

namespace Orchestration.ApiServer.Patching;

/// <summary>
/// Server-side apply (<c>application/apply-patch+yaml</c>): the applied configuration is merged
/// into the object (lists by their merge keys), the manager becomes the owner of the fields it set,
/// fields it owned and no longer sets are removed unless another manager owns them, and setting a
/// field another manager owns to a different value is a 409 conflict unless forced.
/// </summary>
public sealed class ApplyPatcher(TimeProvider timeProvider) : IObjectPatcher
{
    /// <inheritdoc />
    public PatchKind Kind => PatchKind.Apply;

    /// <inheritdoc />
    public object Parse(ObjectPatch patch)
    {
        ArgumentNullException.ThrowIfNull(patch);
        var node = YamlDocuments.Parse(patch.Body) as JsonObject ?? throw new BadRequestException("an apply patch must be an object");
        if (string.IsNullOrEmpty(node["apiVersion"]?.ToString()) || string.IsNullOrEmpty(node["kind"]?.ToString()))
        {
            throw new BadRequestException("invalid object type: apiVersion and kind must be set in an apply patch");
        }

        return node;
    }

    /// <inheritdoc />
    public JsonObject Apply(ResourceKind kind, JsonObject current, object parsed, ObjectPatch patch)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(patch);
        var applied = (JsonObject)((JsonObject)parsed).DeepClone();
        var manager = patch.FieldManager ?? throw new BadRequestException("fieldManager is required for apply patch");
        var meta = ObjectRegistry.MetadataOf(current);
        var entries = (meta["managedFields"] as JsonArray ?? []).OfType<JsonObject>().Select(e => (JsonObject)e.DeepClone()).ToList();
        var sets = entries.Select(e => FieldSet.FromFieldsV1(e["fieldsV1"] as JsonObject)).ToList();
        var mine = entries.FindIndex(e => e["manager"]?.ToString() == manager && e["operation"]?.ToString() == "Apply");
        var appliedFields = FieldSet.FromObject(kind.ClrType, applied);

        // Conflicts: another manager owns a field this apply sets to a different value.
        var conflicts = new List<(string Manager, string Path)>();
        for (var i = 0; i < entries.Count; i++)
        {
            if (i == mine)
            {
                continue;
            }

            foreach (var path in sets[i].Paths.Where(appliedFields.Contains).ToList())
            {
                var live = FieldSet.Resolve(current, path);
                var wanted = FieldSet.Resolve(applied, path);
                if (live.Found && !JsonNode.DeepEquals(live.Value, wanted.Value))
                {
                    if (patch.Force)
                    {
                        sets[i].Remove(path);
                    }
                    else
                    {
                        conflicts.Add((entries[i]["manager"]?.ToString() ?? "", path));
                    }
                }
            }
        }

        if (conflicts.Count > 0)
        {
            var lines = conflicts.Select(c => $"conflict with \"{c.Manager}\": {FieldSet.Display(c.Path)}");
            var causes = conflicts.Select(c => new k8s.Models.V1StatusCause { Reason = "FieldManagerConflict", Field = FieldSet.Display(c.Path), Message = $"conflict with \"{c.Manager}\"" }).ToList();
            throw new ClusterApiException(409, "Conflict", $"Apply failed with {conflicts.Count} conflict{(conflicts.Count == 1 ? "" : "s")}: {string.Join("\n", lines)}", causes);
        }

        // Fields this manager set before and has dropped now go, unless someone else owns them.
        if (mine >= 0)
        {
            foreach (var path in sets[mine].Except(appliedFields).Paths.OrderByDescending(p => p.Length))
            {
                if (!sets.Where((_, i) => i != mine).Any(s => s.Contains(path)))
                {
                    FieldSet.RemoveAt(current, path);
                }
            }
        }

        var configuration = (JsonObject)applied.DeepClone();
        (configuration["metadata"] as JsonObject)?.Remove("managedFields");
        configuration.Remove("status");
        var merged = kind.ClrType is { } type
            ? StrategicMerge.Apply(type, current, configuration)
            : (JsonObject)MergePatch.Apply(current, configuration)!;

        var entry = new JsonObject
        {
            ["manager"] = manager,
            ["operation"] = "Apply",
            ["apiVersion"] = applied["apiVersion"]!.ToString(),
            ["time"] = timeProvider.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            ["fieldsType"] = "FieldsV1",
            ["fieldsV1"] = appliedFields.ToFieldsV1(),
        };
        var next = new JsonArray();
        for (var i = 0; i < entries.Count; i++)
        {
            if (i == mine)
            {
                continue;
            }

            if (sets[i].Count > 0)
            {
                entries[i]["fieldsV1"] = sets[i].ToFieldsV1();
                next.Add(entries[i]);
            }
        }

        next.Add(entry);
        ObjectRegistry.MetadataOf(merged)["managedFields"] = next;
        return merged;
    }
}
