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
                var other => throw new Client.BadRequestException($"unknown label selector operator {other}"),
            });
        }

        return string.Join(",", terms);
    }
}
