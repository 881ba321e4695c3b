using k8s.Models;

namespace Orchestration.Scheduling;

/// <summary>
/// A label selector compiled once from a <see cref="V1LabelSelector"/>, so that affinity and spread
/// checks on the hot path compare strings instead of walking the API object.
/// </summary>
public sealed class PodSelector
{
    private readonly KeyValuePair<string, string>[] _matchLabels;
    private readonly V1LabelSelectorRequirement[] _expressions;

    private PodSelector(KeyValuePair<string, string>[] matchLabels, V1LabelSelectorRequirement[] expressions)
    {
        _matchLabels = matchLabels;
        _expressions = expressions;
        if (matchLabels.Length == 1 && expressions.Length == 0)
        {
            SingleLabel = matchLabels[0];
        }
    }

    /// <summary>Selects nothing: what a missing selector means in affinity terms and spread constraints.</summary>
    public static PodSelector Nothing { get; } = new([], [new V1LabelSelectorRequirement { Key = "", OperatorProperty = "In", Values = [] }]);

    /// <summary>
    /// Set when the selector is exactly one <c>key=value</c> pair: per-node label counts can then answer
    /// "how many matching pods" without visiting the pods.
    /// </summary>
    public KeyValuePair<string, string>? SingleLabel { get; }

    /// <summary>Compiles a selector; null selects nothing, an empty one selects everything (the API's rule).</summary>
    public static PodSelector From(V1LabelSelector? selector) =>
        selector is null
            ? Nothing
            : new PodSelector((selector.MatchLabels ?? new Dictionary<string, string>()).ToArray(), (selector.MatchExpressions ?? []).ToArray());

    /// <summary>Whether a set of labels matches.</summary>
    public bool Matches(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        foreach (var (key, value) in _matchLabels)
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value)
            {
                return false;
            }
        }

        foreach (var expression in _expressions)
        {
            var has = labels.TryGetValue(expression.Key, out var actual);
            var values = expression.Values ?? [];
            var ok = expression.OperatorProperty switch
            {
                "In" => has && values.Contains(actual!),
                "NotIn" => !has || !values.Contains(actual!),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }
}
