using System.Text.Json.Nodes;
using Orchestration.Resources;
using Orchestration.Resources.Patching;

namespace Orchestration.ApiServer.Patching;

/// <summary>
/// A set of field paths in the <c>FieldsV1</c> vocabulary of server-side apply: <c>f:name</c> for
/// a field, <c>k:{"name":"web"}</c> for a list element found by its merge key, <c>v:"x"</c> for a
/// set member, and <c>.</c> for an element itself. Lists with no merge key are atomic: the list is
/// one leaf.
/// </summary>
internal sealed class FieldSet
{
    private const char Separator = '\u0001';
    private readonly HashSet<string> _paths;

    private FieldSet(HashSet<string> paths) => _paths = paths;

    public static FieldSet Empty => new([]);

    public int Count => _paths.Count;

    public IEnumerable<string> Paths => _paths;

    public bool Contains(string path) => _paths.Contains(path);

    public void Remove(string path) => _paths.Remove(path);

    public void Add(string path) => _paths.Add(path);

    public static FieldSet Of(IEnumerable<string> paths) => new(paths.ToHashSet(StringComparer.Ordinal));

    public FieldSet Except(FieldSet other) => new(_paths.Where(p => !other._paths.Contains(p)).ToHashSet(StringComparer.Ordinal));

    /// <summary>The leaves an applied configuration sets.</summary>
    public static FieldSet FromObject(Type? type, JsonObject obj)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, value) in obj)
        {
            if (name is "apiVersion" or "kind" or "status")
            {
                continue;
            }

            if (name == "metadata" && value is JsonObject meta)
            {
                foreach (var (metaName, metaValue) in meta)
                {
                    if (metaName is "labels" or "annotations" or "finalizers" or "ownerReferences")
                    {
                        Collect(typeof(k8s.Models.V1ObjectMeta), metaName, metaValue, "f:metadata", paths);
                    }
                }

                continue;
            }

            Collect(type, name, value, "", paths);
        }

        return new FieldSet(paths);
    }

    private static void Collect(Type? owner, string name, JsonNode? value, string prefix, HashSet<string> paths)
    {
        var path = Join(prefix, "f:" + name);
        var field = ModelFields.Find(owner, name);
        switch (value)
        {
            case JsonObject obj when obj.Count > 0:
                var childType = field is { Shape: FieldShape.Object } ? field.Type : field is { Shape: FieldShape.Map } && ModelFields.IsObject(field.Element) ? null : null;
                foreach (var (childName, childValue) in obj)
                {
                    if (field is { Shape: FieldShape.Map } && ModelFields.IsObject(field.Element) && childValue is JsonObject entry)
                    {
                        foreach (var (entryName, entryValue) in entry)
                        {
                            Collect(field.Element, entryName, entryValue, Join(path, "f:" + childName), paths);
                        }
                    }
                    else
                    {
                        Collect(childType, childName, childValue, path, paths);
                    }
                }

                break;
            case JsonArray items when MergeKeys.For(owner, name) is { Merges: true } merge:
                foreach (var item in items)
                {
                    if (merge.IsSet || item is not JsonObject element)
                    {
                        paths.Add(Join(path, "v:" + (item?.ToJsonString() ?? "null")));
                        continue;
                    }

                    var elementPath = Join(path, KeyOf(merge.Key!, element));
                    paths.Add(Join(elementPath, "."));
                    foreach (var (childName, childValue) in element)
                    {
                        Collect(field?.Element, childName, childValue, elementPath, paths);
                    }
                }

                break;
            default:
                paths.Add(path);
                break;
        }
    }

    private static string KeyOf(string key, JsonObject element) =>
        "k:" + new JsonObject { [key] = element[key]?.DeepClone() }.ToJsonString();

    private static string Join(string prefix, string segment) => prefix.Length == 0 ? segment : prefix + Separator + segment;

    /// <summary>The segments of a path.</summary>
    public static string[] Split(string path) => path.Split(Separator);

    /// <summary>A path as Kubernetes prints it in a conflict (<c>.spec.replicas</c>).</summary>
    public static string Display(string path) =>
        string.Concat(Split(path).Where(s => s != ".").Select(s => s.StartsWith("f:", StringComparison.Ordinal) ? "." + s[2..] : "[" + s[2..] + "]"));

    /// <summary>The set as a FieldsV1 tree.</summary>
    public JsonObject ToFieldsV1()
    {
        var root = new JsonObject();
        foreach (var path in _paths.OrderBy(p => p, StringComparer.Ordinal))
        {
            var node = root;
            foreach (var segment in Split(path))
            {
                if (node[segment] is not JsonObject child)
                {
                    child = [];
                    node[segment] = child;
                }

                node = child;
            }
        }

        return root;
    }

    /// <summary>A FieldsV1 tree as a set: every node without children is a leaf path.</summary>
    public static FieldSet FromFieldsV1(JsonObject? tree)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        void Walk(JsonObject node, string prefix)
        {
            foreach (var (segment, child) in node)
            {
                var path = Join(prefix, segment);
                if (child is JsonObject { Count: > 0 } inner)
                {
                    Walk(inner, path);
                }
                else
                {
                    paths.Add(path);
                }
            }
        }

        if (tree is not null)
        {
            Walk(tree, "");
        }

        return new FieldSet(paths);
    }

    /// <summary>The value at a path in an object, and whether it is there.</summary>
    public static (bool Found, JsonNode? Value) Resolve(JsonObject obj, string path)
    {
        JsonNode? node = obj;
        foreach (var segment in Split(path))
        {
            if (segment.Length < 1 || (segment != "." && segment.Length < 2))
            {
                return (false, null);
            }

            switch (segment[0])
            {
                case 'f' when node is JsonObject o && o.ContainsKey(segment[2..]):
                    node = o[segment[2..]];
                    break;
                case 'k' when node is JsonArray list:
                    var key = JsonNode.Parse(segment[2..])!.AsObject().Single();
                    node = list.OfType<JsonObject>().FirstOrDefault(e => JsonNode.DeepEquals(e[key.Key], key.Value));
                    if (node is null)
                    {
                        return (false, null);
                    }

                    break;
                case 'v' when node is JsonArray set:
                    var wanted = JsonNode.Parse(segment[2..]);
                    node = set.FirstOrDefault(e => JsonNode.DeepEquals(e, wanted));
                    if (node is null && wanted is not null)
                    {
                        return (false, null);
                    }

                    break;
                case '.':
                    break;
                default:
                    return (false, null);
            }
        }

        return (true, node);
    }

    /// <summary>Removes what a path names from an object, if it is there.</summary>
    public static void RemoveAt(JsonObject obj, string path)
    {
        var segments = Split(path);
        if (segments[^1] == ".")
        {
            segments = segments[..^1];
        }

        JsonNode? parent = obj;
        for (var i = 0; i < segments.Length - 1 && parent is not null; i++)
        {
            parent = Resolve((JsonObject)obj, string.Join(Separator, segments[..(i + 1)])).Value;
        }

        var last = segments[^1];
        if (last.Length < 2)
        {
            return;
        }

        switch (last[0], parent)
        {
            case ('f', JsonObject o):
                o.Remove(last[2..]);
                break;
            case ('k', JsonArray list):
                var key = JsonNode.Parse(last[2..])!.AsObject().Single();
                if (list.OfType<JsonObject>().FirstOrDefault(e => JsonNode.DeepEquals(e[key.Key], key.Value)) is { } element)
                {
                    list.Remove(element);
                }

                break;
            case ('v', JsonArray set):
                var value = JsonNode.Parse(last[2..]);
                if (set.FirstOrDefault(e => JsonNode.DeepEquals(e, value)) is { } member)
                {
                    set.Remove(member);
                }

                break;
        }
    }
}
