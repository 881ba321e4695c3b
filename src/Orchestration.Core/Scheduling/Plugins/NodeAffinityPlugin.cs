using k8s.Models;

namespace Orchestration.Scheduling.Plugins;

/// <summary>NodeAffinity: the node selector and required terms filter; preferred terms score.</summary>
public sealed class NodeAffinityPlugin : IFilterPlugin, IScorePlugin
{
    /// <inheritdoc />
    public string Name => "NodeAffinity";

    /// <inheritdoc />
    public int Weight => 2;

    /// <inheritdoc />
    public FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node) =>
        MatchesSelectorAndAffinity(pod, node) ? FilterResult.Fits : FilterResult.UnschedulableAndUnresolvable("node(s) didn't match Pod's node affinity/selector");

    /// <summary>
    /// Whether a node satisfies the pod's node selector and required node affinity (topology spread
    /// counts only such nodes, as kube-scheduler's default nodeAffinityPolicy Honor does).
    /// </summary>
    public static bool MatchesSelectorAndAffinity(SchedulingPod pod, SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(node);

        // Checked first: enumerating an empty selector through the interface still allocates.
        if (pod.NodeSelector.Count > 0)
        {
            foreach (var (key, value) in pod.NodeSelector)
            {
                if (!node.Labels.TryGetValue(key, out var actual) || actual != value)
                {
                    return false;
                }
            }
        }

        if (pod.RequiredTerms.Count == 0)
        {
            return true;
        }

        foreach (var term in pod.RequiredTerms)
        {
            if (Matches(term, node))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public long Score(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        if (pod.PreferredTerms.Count == 0)
        {
            return 0;
        }

        var total = pod.PreferredTerms.Sum(t => (long)t.Weight);
        var matched = pod.PreferredTerms.Where(t => t.Preference is not null && Matches(t.Preference, node)).Sum(t => (long)t.Weight);
        return total == 0 ? 0 : matched * 100 / total;
    }

    /// <summary>Whether a node selector term matches a node: every expression holds.</summary>
    public static bool Matches(V1NodeSelectorTerm term, SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(term);
        ArgumentNullException.ThrowIfNull(node);
        foreach (var expression in term.MatchExpressions ?? [])
        {
            var has = node.Labels.TryGetValue(expression.Key, out var value);
            var values = expression.Values ?? [];
            var ok = expression.OperatorProperty switch
            {
                "In" => has && values.Contains(value!),
                "NotIn" => !has || !values.Contains(value!),
                "Exists" => has,
                "DoesNotExist" => !has,
                "Gt" => has && long.TryParse(value, out var gt) && values.Count == 1 && long.TryParse(values[0], out var limit) && gt > limit,
                "Lt" => has && long.TryParse(value, out var lt) && values.Count == 1 && long.TryParse(values[0], out var upper) && lt < upper,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        foreach (var field in term.MatchFields ?? [])
        {
            if (field.Key == "metadata.name" && !(field.OperatorProperty == "In" ? (field.Values ?? []).Contains(node.Name) : !(field.Values ?? []).Contains(node.Name)))
            {
                return false;
            }
        }

        return (term.MatchExpressions?.Count ?? 0) + (term.MatchFields?.Count ?? 0) > 0;
    }
}
