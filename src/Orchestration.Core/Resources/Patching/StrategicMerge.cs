using System.Text.Json.Nodes;
using Orchestration.Client;

namespace Orchestration.Resources.Patching;

/// <summary>
/// The strategic merge patch algorithm over JSON trees, guided by the model types: maps merge key
/// by key (null deletes), lists named in <see cref="MergeKeys"/> merge by their key or as sets, other
/// lists are replaced. It honours the directives kubectl sends: <c>$patch</c> (replace, delete,
/// merge), <c>$retainKeys</c>, <c>$setElementOrder/&lt;list&gt;</c> and
/// <c>$deleteFromPrimitiveList/&lt;list&gt;</c>.
/// </summary>
public static class StrategicMerge
{
    private const string Directive = "$patch";
    private const string RetainKeys = "$retainKeys";
    private const string SetElementOrder = "$setElementOrder/";
    private const string DeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

    /// <summary>Applies <paramref name="patch"/> to <paramref name="target"/> (which it changes) and returns the result.</summary>
    public static JsonObject Apply(Type type, JsonObject target, JsonObject patch)
    {
        ArgumentNullException.ThrowIfNull(type);
        return MergeObject(type, target, patch) ?? [];
    }

    private static JsonObject? MergeObject(Type? type, JsonObject target, JsonObject patch)
    {
        switch (patch[Directive]?.ToString())
        {
            case "replace":
                return Strip(patch);
            case "delete":
                return null;
            case null or "merge":
                break;
            default:
                throw new BadRequestException($"unknown patch directive {Directive}: {patch[Directive]}");
        }

        var orders = new List<(string Field, JsonArray Order)>();
        foreach (var (name, value) in patch)
        {
            if (name == Directive || name == RetainKeys)
            {
                continue;
            }

            if (name.StartsWith(SetElementOrder, StringComparison.Ordinal))
            {
                if (value is JsonArray order)
                {
                    orders.Add((name[SetElementOrder.Length..], order));
                }

                continue;
            }

            if (name.StartsWith(DeleteFromPrimitiveList, StringComparison.Ordinal))
            {
                var field = name[DeleteFromPrimitiveList.Length..];
                if (target[field] is JsonArray list && value is JsonArray remove)
                {
                    target[field] = new JsonArray(list.Where(item => !remove.Any(r => JsonNode.DeepEquals(r, item))).Select(item => item?.DeepClone()).ToArray());
                }

                continue;
            }

            if (value is null)
            {
                target.Remove(name);
                continue;
            }

            var modelField = ModelFields.Find(type, name);
            if (value is JsonObject child)
            {
                var childType = modelField is { Shape: FieldShape.Object } ? modelField.Type : null;
                var merged = modelField?.Shape == FieldShape.Map
                    ? MergeMap(modelField.Element, target[name] as JsonObject ?? [], child)
                    : MergeObject(childType, target[name] as JsonObject ?? [], child);
                if (merged is null)
                {
                    target.Remove(name);
                }
                else if (!ReferenceEquals(merged, target[name]))
                {
                    target[name] = merged.Parent is null ? merged : merged.DeepClone();
                }

                continue;
            }

            if (value is JsonArray items && MergeKeys.For(type, name) is { Merges: true } merge)
            {
                target[name] = MergeList(modelField?.Element, target[name] as JsonArray, items, merge);
                continue;
            }

            target[name] = StripAll(value);
        }

        foreach (var (field, order) in orders)
        {
            if (target[field] is JsonArray list)
            {
                target[field] = Reorder(list, order, MergeKeys.For(type, field));
            }
        }

        if (patch[RetainKeys] is JsonArray retain)
        {
            var keep = retain.Select(k => k?.ToString()).ToHashSet(StringComparer.Ordinal);
            foreach (var name in target.Select(p => p.Key).Where(k => !keep.Contains(k)).ToList())
            {
                target.Remove(name);
            }
        }

        return target;
    }

    private static JsonObject MergeMap(Type element, JsonObject target, JsonObject patch)
    {
        if (patch[Directive]?.ToString() == "replace")
        {
            return Strip(patch);
        }

        foreach (var (name, value) in patch)
        {
            if (name == Directive)
            {
                continue;
            }

            if (value is null)
            {
                target.Remove(name);
            }
            else if (value is JsonObject child && ModelFields.IsObject(element))
            {
                var merged = MergeObject(element, target[name] as JsonObject ?? [], child);
                if (merged is null)
                {
                    target.Remove(name);
                }
                else if (!ReferenceEquals(merged, target[name]))
                {
                    target[name] = merged.Parent is null ? merged : merged.DeepClone();
                }
            }
            else
            {
                target[name] = StripAll(value);
            }
        }

        return target;
    }

    private static JsonArray MergeList(Type? element, JsonArray? target, JsonArray patch, ListMerge merge)
    {
        var result = target is null ? [] : target.Select(item => item?.DeepClone()).ToList();
        if (patch.Any(item => item is JsonObject o && o[Directive]?.ToString() == "replace"))
        {
            return new JsonArray(patch.Where(item => !(item is JsonObject o && o[Directive]?.ToString() == "replace")).Select(StripAll).ToArray());
        }

        foreach (var item in patch)
        {
            if (merge.IsSet || item is not JsonObject patchItem)
            {
                if (!result.Any(existing => JsonNode.DeepEquals(existing, item)))
                {
                    result.Add(item?.DeepClone());
                }

                continue;
            }

            var key = patchItem[merge.Key!];
            var index = result.FindIndex(existing => existing is JsonObject o && JsonNode.DeepEquals(o[merge.Key!], key));
            if (patchItem[Directive]?.ToString() == "delete")
            {
                if (index >= 0)
                {
                    result.RemoveAt(index);
                }

                continue;
            }

            if (key is null)
            {
                throw new BadRequestException($"a list element in the patch lacks its merge key \"{merge.Key}\"");
            }

            if (index >= 0)
            {
                var merged = MergeObject(element, (JsonObject)result[index]!, patchItem);
                if (merged is null)
                {
                    result.RemoveAt(index);
                }
                else
                {
                    result[index] = merged;
                }
            }
            else
            {
                result.Add(Strip(patchItem));
            }
        }

        return new JsonArray(result.Select(item => item?.Parent is null ? item : item.DeepClone()).ToArray());
    }

    private static JsonArray Reorder(JsonArray list, JsonArray order, ListMerge merge)
    {
        JsonNode? KeyOf(JsonNode? item) => merge.Key is { } key && item is JsonObject o ? o[key] : item;
        var items = list.Select(item => item?.DeepClone()).ToList();
        var ordered = new List<JsonNode?>();
        foreach (var wanted in order)
        {
            var wantedKey = merge.Key is { } key && wanted is JsonObject w ? w[key] : wanted;
            var index = items.FindIndex(item => JsonNode.DeepEquals(KeyOf(item), wantedKey));
            if (index >= 0)
            {
                ordered.Add(items[index]);
                items.RemoveAt(index);
            }
        }

        ordered.AddRange(items);
        return new JsonArray(ordered.ToArray());
    }

    /// <summary>A patch fragment without its directives, to be stored as is.</summary>
    private static JsonObject Strip(JsonObject obj) => (JsonObject)StripAll(obj)!;

    private static JsonNode? StripAll(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Where(p => !p.Key.StartsWith('$')).Select(p => KeyValuePair.Create(p.Key, StripAll(p.Value)))),
        JsonArray a => new JsonArray(a.Select(StripAll).ToArray()),
        _ => node?.DeepClone(),
    };
}
