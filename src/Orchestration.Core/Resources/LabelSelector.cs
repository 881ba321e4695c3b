using Orchestration.Client;

namespace Orchestration.Resources;

/// <summary>
/// A parsed label selector, in the string syntax of the API (<c>a=b, c!=d, e in (f,g), h notin (i), j, !k</c>).
/// All requirements must hold. As in Kubernetes, <c>!=</c> and <c>notin</c> also match objects
/// that lack the label.
/// </summary>
public sealed class LabelSelector
{
    private readonly IReadOnlyList<Requirement> _requirements;

    private LabelSelector(IReadOnlyList<Requirement> requirements) => _requirements = requirements;

    /// <summary>The selector that matches everything.</summary>
    public static LabelSelector Everything { get; } = new([]);

    /// <summary>Whether the selector matches everything.</summary>
    public bool IsEmpty => _requirements.Count == 0;

    /// <summary>Parses a selector; null or blank matches everything.</summary>
    /// <exception cref="BadRequestException">The selector is malformed.</exception>
    public static LabelSelector Parse(string? selector)
    {
        if (string.IsNullOrWhiteSpace(selector))
        {
            return Everything;
        }

        var requirements = new List<Requirement>();
        foreach (var part in SplitTopLevel(selector))
        {
            requirements.Add(ParseRequirement(part.Trim(), selector));
        }

        return new LabelSelector(requirements);
    }

    /// <summary>Whether the labels satisfy every requirement.</summary>
    public bool Matches(IDictionary<string, string>? labels)
    {
        foreach (var requirement in _requirements)
        {
            string? value = null;
            var has = labels is not null && labels.TryGetValue(requirement.Key, out value);
            var ok = requirement.Operator switch
            {
                Op.Exists => has,
                Op.DoesNotExist => !has,
                Op.In => has && requirement.Values.Contains(value!),
                Op.NotIn => !has || !requirement.Values.Contains(value!),
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static Requirement ParseRequirement(string text, string selector)
    {
        if (text.Length == 0)
        {
            throw Malformed(selector, "an empty requirement");
        }

        if (text.StartsWith('!'))
        {
            return new Requirement(ValidKey(text[1..].Trim(), selector), Op.DoesNotExist, []);
        }

        var notEquals = text.IndexOf("!=", StringComparison.Ordinal);
        if (notEquals > 0)
        {
            return new Requirement(ValidKey(text[..notEquals].Trim(), selector), Op.NotIn, [text[(notEquals + 2)..].Trim()]);
        }

        var equals = text.IndexOf('=');
        if (equals > 0)
        {
            var value = text[(equals + 1)..];
            value = value.StartsWith('=') ? value[1..] : value;
            return new Requirement(ValidKey(text[..equals].Trim(), selector), Op.In, [value.Trim()]);
        }

        var words = text.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 1)
        {
            return new Requirement(ValidKey(words[0], selector), Op.Exists, []);
        }

        var rest = words[1];
        var op = rest.StartsWith("notin", StringComparison.Ordinal) ? Op.NotIn : rest.StartsWith("in", StringComparison.Ordinal) ? Op.In : (Op?)null;
        var open = rest.IndexOf('(');
        if (op is null || open < 0 || !rest.EndsWith(')'))
        {
            throw Malformed(selector, $"'{text}' is not key=value, key!=value, key in (...), key notin (...), key or !key");
        }

        var values = rest[(open + 1)..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (values.Length == 0)
        {
            throw Malformed(selector, $"'{text}' needs at least one value in the parentheses");
        }

        return new Requirement(ValidKey(words[0], selector), op.Value, values.ToHashSet(StringComparer.Ordinal));
    }

    private static string ValidKey(string key, string selector)
    {
        if (key.Length == 0 || key.Any(c => char.IsWhiteSpace(c) || c is '(' or ')' or ',' or '=' or '!'))
        {
            throw Malformed(selector, $"'{key}' is not a label key");
        }

        return key;
    }

    private static IEnumerable<string> SplitTopLevel(string selector)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < selector.Length; i++)
        {
            switch (selector[i])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    yield return selector[start..i];
                    start = i + 1;
                    break;
            }
        }

        if (depth != 0)
        {
            throw Malformed(selector, "unbalanced parentheses");
        }

        yield return selector[start..];
    }

    private static BadRequestException Malformed(string selector, string why) => new($"unable to parse requirement: label selector \"{selector}\": {why}");

    private enum Op
    {
        In,
        NotIn,
        Exists,
        DoesNotExist,
    }

    private sealed record Requirement(string Key, Op Operator, IReadOnlySet<string> Values)
    {
        public Requirement(string key, Op op, string[] values)
            : this(key, op, values.ToHashSet(StringComparer.Ordinal))
        {
        }
    }
}
