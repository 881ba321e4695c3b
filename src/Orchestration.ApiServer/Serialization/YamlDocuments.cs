using System.Globalization;
using System.Text.Json.Nodes;
using Orchestration.Client;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;

namespace Orchestration.ApiServer.Serialization;

/// <summary>Reads YAML bodies into JSON trees and writes JSON trees as YAML, with YAML 1.1's plain scalars typed as JSON would type them.</summary>
public static class YamlDocuments
{
    /// <summary>Parses one YAML document into a JSON tree.</summary>
    /// <exception cref="BadRequestException">The text is not YAML, or holds more than one document.</exception>
    public static JsonNode? Parse(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw new BadRequestException($"error converting YAML to JSON: yaml: line {ex.Start.Line}: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet throws these, not a YamlException, for some malformed documents (found by
            // the fuzzer: a plain scalar cut inside nested flow collections, an empty key in a
            // nested block mapping): still the client's bad input.
            throw new BadRequestException($"error converting YAML to JSON: yaml: the text is not valid YAML ({ex.Message})", ex);
        }

        return stream.Documents.Count switch
        {
            0 => null,
            1 => ToJson(stream.Documents[0].RootNode, new Budget(), 0),
            _ => throw new BadRequestException("the body holds more than one YAML document"),
        };
    }

    /// <summary>A JSON tree as YAML text.</summary>
    public static string ToYaml(JsonNode node)
    {
        var serializer = new SerializerBuilder().WithQuotingNecessaryStrings().Build();
        return serializer.Serialize(ToPlain(node));
    }

    /// <summary>Deepest nesting accepted; an alias that contains itself would otherwise recurse forever.</summary>
    private const int MaxDepth = 100;

    /// <summary>Most nodes one document may expand to, so that aliases cannot multiply a small body into a huge one.</summary>
    private const int MaxNodes = 1_000_000;

    private static JsonNode? ToJson(YamlNode node, Budget budget, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new BadRequestException($"error converting YAML to JSON: the document nests deeper than {MaxDepth} levels (or an alias refers to itself) at line {node.Start.Line}");
        }

        if (++budget.Nodes > MaxNodes)
        {
            throw new BadRequestException($"error converting YAML to JSON: the document expands to more than {MaxNodes} nodes");
        }

        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    if (key is not YamlScalarNode { Value: { } name })
                    {
                        throw new BadRequestException($"error converting YAML to JSON: a mapping key at line {key.Start.Line} is not a string");
                    }

                    if (obj.ContainsKey(name))
                    {
                        throw new BadRequestException($"error converting YAML to JSON: yaml: line {key.Start.Line}: key \"{name}\" already set in map");
                    }

                    obj[name] = ToJson(value, budget, depth + 1);
                }

                return obj;
            case YamlSequenceNode seq:
                var array = new JsonArray();
                foreach (var item in seq.Children)
                {
                    array.Add(ToJson(item, budget, depth + 1));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new BadRequestException($"unsupported YAML node at line {node.Start.Line}");
        }
    }

    private sealed class Budget
    {
        public int Nodes;
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
        {
            return JsonValue.Create(value);
        }

        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return integer is >= int.MinValue and <= int.MaxValue ? JsonValue.Create((int)integer) : JsonValue.Create(integer);
        }

        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && value.Any(char.IsDigit) && !value.Contains('_'))
        {
            return double.IsFinite(number)
                ? JsonValue.Create(number)
                : throw new BadRequestException($"error converting YAML to JSON: the number {value} is out of range");
        }

        return JsonValue.Create(value);
    }

    private static object? ToPlain(JsonNode? node) => node switch
    {
        JsonObject o => o.ToDictionary(p => p.Key, p => ToPlain(p.Value)),
        JsonArray a => a.Select(ToPlain).ToList(),
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        JsonValue v when v.TryGetValue<long>(out var l) => l,
        JsonValue v when v.TryGetValue<double>(out var d) => d,
        JsonValue v => v.ToJsonString(),
        _ => null,
    };
}
