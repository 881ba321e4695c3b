using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources;

/// <summary>Label selector objects in their string form, as list and watch take them.</summary>
public static class LabelSelectors
{
    /// <summary>The string form of a selector (<c>app=web,tier in (a,b)</c>); empty selects everything.</summary>
    public static string ToString(V1LabelSelector? selector)
    {
        if (selector is null)
        {
            return "";
        }

        var terms = (selector.MatchLabels ?? new Dictionary<string, string>()).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}").ToList();
        foreach (var expression in selector.MatchExpressions ?? [])
        {
            var values = string.Join(",", expression.Values ?? []);
            terms.Add(expression.OperatorProperty switch
            {
                "In" => $"{expression.Key} in ({values})",
                "NotIn" => $"{expression.Key} notin ({values})",
                "Exists" => expression.Key,
                "DoesNotExist" => $"!{expression.Key}",

                // Written as is: parsing the string refuses it with the selector syntax's own error.
                var other => $"{expression.Key} {other} ({values})",
            });
        }

        return string.Join(",", terms);
    }

    /// <summary>The string form of a selector held as JSON; empty when it is absent or not a label selector.</summary>
    public static string ToString(JsonObject? selector)
    {
        if (selector is null)
        {
            return "";
        }

        try
        {
            return ToString(ObjectConversion.ToObject<V1LabelSelector>(selector));
        }
        catch (Client.BadRequestException)
        {
            // A custom kind's "selector" field may be something else entirely.
            return "";
        }
    }

    /// <summary>The string form of a selector given as a label map (a Service's spec.selector).</summary>
    public static string ToString(IDictionary<string, string>? matchLabels) =>
        ToString(new V1LabelSelector { MatchLabels = matchLabels });
}
