using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.Resources.Strategies;

namespace Orchestration.Resources;

/// <summary>
/// A parsed field selector (<c>metadata.name=x,spec.nodeName!=</c>): each term compares one field
/// of the object, by its JSON path, with a value; a missing field reads as the empty string.
/// </summary>
public sealed class FieldSelector
{
    private readonly IReadOnlyList<(string[] Path, string Field, bool Equal, string Value)> _terms;

    private FieldSelector(IReadOnlyList<(string[], string, bool, string)> terms) => _terms = terms;

    /// <summary>The selector that matches everything.</summary>
    public static FieldSelector Everything { get; } = new([]);

    /// <summary>Whether the selector matches everything.</summary>
    public bool IsEmpty => _terms.Count == 0;

    /// <summary>Parses a selector; null or blank matches everything.</summary>
    /// <exception cref="BadRequestException">The selector is malformed.</exception>
    public static FieldSelector Parse(string? selector)
    {
        if (string.IsNullOrWhiteSpace(selector))
        {
            return Everything;
        }

        var terms = new List<(string[], string, bool, string)>();
        foreach (var part in selector.Split(','))
        {
            var text = part.Trim();
            var notEquals = text.IndexOf("!=", StringComparison.Ordinal);
            var equals = text.IndexOf('=');
            var (field, equal, value) = notEquals > 0
                ? (text[..notEquals], false, text[(notEquals + 2)..])
                : equals > 0
                    ? (text[..equals], true, text[(equals + 1)..].TrimStart('='))
                    : throw new BadRequestException($"invalid field selector \"{selector}\": '{text}' is not field=value or field!=value");
            field = field.Trim();
            if (field.Split('.').Any(s => s.Length == 0))
            {
                throw new BadRequestException($"invalid field selector \"{selector}\": '{field}' is not a field path");
            }

            terms.Add((field.Split('.'), field, equal, value.Trim()));
        }

        return new FieldSelector(terms);
    }

    /// <summary>Refuses a selector that names a field the kind cannot be selected by (its strategy's <see cref="IResourceStrategy.SelectableFields"/>, the name and the namespace), with Kubernetes's wording.</summary>
    /// <exception cref="BadRequestException">A field is not supported.</exception>
    public void RequireSupported(IResourceStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        foreach (var (_, field, _, _) in _terms)
        {
            if (field is not ("metadata.name" or "metadata.namespace") && !strategy.SelectableFields.Contains(field))
            {
                throw new BadRequestException($"field label not supported: {field}");
            }
        }
    }

    /// <summary>Whether the object (as JSON) satisfies every term.</summary>
    public bool Matches(JsonNode? obj)
    {
        foreach (var (path, _, equal, value) in _terms)
        {
            var node = obj;
            foreach (var segment in path)
            {
                node = node is JsonObject o ? o[segment] : null;
            }

            var actual = node is JsonValue v ? v.ToString() : "";
            if ((actual == value) != equal)
            {
                return false;
            }
        }

        return true;
    }
}
