namespace Orchestration.Scheduling.Plugins;

/// <summary>
/// PodTopologySpread: a pod's DoNotSchedule constraints filter out nodes whose domain would hold more
/// than maxSkew matching pods above the emptiest domain; its ScheduleAnyway constraints score domains
/// with fewer matching pods higher. Only nodes that match the pod's node selector and affinity, and
/// carry every constraint's topology key, make up the domains (kube-scheduler's defaults:
/// nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore). The counts per domain are taken once per pod
/// in the pre-filter, so each node's check is a dictionary lookup.
/// </summary>
public sealed class PodTopologySpreadPlugin : IPreFilterExtensions, IFilterPlugin, INormalizeScorePlugin
{
    /// <summary>The reason for a node whose domain would be too skewed.</summary>
    public const string ConstraintsNotMatch = "node(s) didn't match pod topology spread constraints";

    /// <summary>The reason for a node that lacks a constraint's topology key.</summary>
    public const string MissingRequiredLabel = "node(s) didn't match pod topology spread constraints (missing required label)";

    private const string StateKey = "PodTopologySpread";

    /// <inheritdoc />
    public string Name => "PodTopologySpread";

    /// <inheritdoc />
    public int Weight => 2;

    /// <inheritdoc />
    public string? PreFilter(SchedulingCycle cycle, SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(cycle);
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(nodes);
        if (pod.TopologySpreadConstraints.Count == 0)
        {
            return null;
        }

        var state = new SpreadState(pod.TopologySpreadConstraints);
        if (nodes is NodeSnapshot snapshot && state.Constraints.Length == 1 && pod.NodeSelector.Count == 0 && pod.RequiredTerms.Count == 0
            && state.Constraints[0].Selector.SingleLabel is { } label)
        {
            // The common case from the snapshot's indexes: every node with the key is in a domain, and
            // only the nodes holding pods of the label add to the counts.
            var constraint = state.Constraints[0];
            var domains = state.Domains[0];
            foreach (var (domain, _) in snapshot.DomainsOf(constraint.TopologyKey))
            {
                domains[domain] = 0;
            }

            foreach (var (node, count) in snapshot.NodesWithPodLabel(pod.Namespace, label.Key, label.Value))
            {
                if (node.Labels.TryGetValue(constraint.TopologyKey, out var domain))
                {
                    domains[domain] += count;
                }
            }

            cycle.Write(StateKey, state);
            return null;
        }

        foreach (var node in nodes)
        {
            if (!state.Counts(pod, node))
            {
                continue;
            }

            for (var i = 0; i < state.Constraints.Length; i++)
            {
                var constraint = state.Constraints[i];
                var domain = node.Labels[constraint.TopologyKey];
                state.Domains[i][domain] = state.Domains[i].GetValueOrDefault(domain) + node.CountMatchingPods(pod.Namespace, constraint.Selector);
            }
        }

        cycle.Write(StateKey, state);
        return null;
    }

    /// <inheritdoc />
    public void AddPod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod added, SchedulingNode node) => Adjust(cycle, pod, added, node, +1);

    /// <inheritdoc />
    public void RemovePod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod removed, SchedulingNode node) => Adjust(cycle, pod, removed, node, -1);

    /// <inheritdoc />
    public FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(cycle);
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(node);
        if (cycle.Read<SpreadState>(StateKey) is not { } state)
        {
            return FilterResult.Fits;
        }

        for (var i = 0; i < state.Constraints.Length; i++)
        {
            var constraint = state.Constraints[i];
            if (!constraint.DoNotSchedule)
            {
                continue;
            }

            if (!node.Labels.TryGetValue(constraint.TopologyKey, out var domain))
            {
                return FilterResult.UnschedulableAndUnresolvable(MissingRequiredLabel);
            }

            var selfMatch = constraint.Selector.Matches(pod.Labels) ? 1 : 0;
            var skew = state.Domains[i].GetValueOrDefault(domain) + selfMatch - state.MinimumOf(i);
            if (skew > constraint.MaxSkew)
            {
                return FilterResult.Unschedulable(ConstraintsNotMatch);
            }
        }

        return FilterResult.Fits;
    }

    /// <summary>The matching pods in the node's domains, weighted by each constraint's number of domains; -1 for a node outside them.</summary>
    public long Score(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(cycle);
        ArgumentNullException.ThrowIfNull(node);
        if (cycle.Read<SpreadState>(StateKey) is not { } state || !state.HasScheduleAnyway)
        {
            return 0;
        }

        double score = 0;
        for (var i = 0; i < state.Constraints.Length; i++)
        {
            var constraint = state.Constraints[i];
            if (constraint.DoNotSchedule)
            {
                continue;
            }

            if (!node.Labels.TryGetValue(constraint.TopologyKey, out var domain))
            {
                return -1;
            }

            // More domains make one domain's excess weigh more, as kube-scheduler weighs by log(domains + 2).
            score += (state.Domains[i].GetValueOrDefault(domain) + constraint.MaxSkew - 1) * Math.Log(state.Domains[i].Count + 2);
        }

        return (long)Math.Round(score * 100);
    }

    /// <summary>Fewest matching pods scores 100; nodes outside the domains score 0.</summary>
    public void NormalizeScores(SchedulingCycle cycle, SchedulingPod pod, Span<long> scores)
    {
        long min = long.MaxValue, max = long.MinValue;
        foreach (var score in scores)
        {
            if (score >= 0)
            {
                min = Math.Min(min, score);
                max = Math.Max(max, score);
            }
        }

        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = scores[i] < 0 ? 0 : max <= 0 ? 100 : 100 * (max + min - scores[i]) / max;
        }
    }

    private static void Adjust(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod other, SchedulingNode node, int delta)
    {
        if (cycle.Read<SpreadState>(StateKey) is not { } state || other.Terminating || other.Namespace != pod.Namespace || !state.Counts(pod, node))
        {
            return;
        }

        for (var i = 0; i < state.Constraints.Length; i++)
        {
            var constraint = state.Constraints[i];
            if (constraint.Selector.Matches(other.Labels))
            {
                var domain = node.Labels[constraint.TopologyKey];
                state.Domains[i][domain] = state.Domains[i].GetValueOrDefault(domain) + delta;
                state.Invalidate(i);
            }
        }
    }

    private sealed class SpreadState
    {
        private readonly int?[] _minimums;

        public SpreadState(IReadOnlyList<TopologySpreadConstraint> constraints)
        {
            Constraints = [.. constraints];
            Domains = Constraints.Select(_ => new Dictionary<string, int>(StringComparer.Ordinal)).ToArray();
            _minimums = new int?[Constraints.Length];
            HasScheduleAnyway = Constraints.Any(c => !c.DoNotSchedule);
        }

        public TopologySpreadConstraint[] Constraints { get; }

        /// <summary>Per constraint: domain (the topology key's value) to matching pods.</summary>
        public Dictionary<string, int>[] Domains { get; }

        public bool HasScheduleAnyway { get; }

        /// <summary>Whether a node makes up a domain: it matches the pod's node affinity and has every topology key.</summary>
        public bool Counts(SchedulingPod pod, SchedulingNode node)
        {
            foreach (var constraint in Constraints)
            {
                if (!node.Labels.ContainsKey(constraint.TopologyKey))
                {
                    return false;
                }
            }

            return NodeAffinityPlugin.MatchesSelectorAndAffinity(pod, node);
        }

        /// <summary>The emptiest domain's count, or 0 while there are fewer domains than minDomains.</summary>
        public int MinimumOf(int index)
        {
            if (_minimums[index] is { } known)
            {
                return known;
            }

            var domains = Domains[index];
            var minimum = domains.Count == 0 || (Constraints[index].MinDomains is { } wanted && domains.Count < wanted) ? 0 : domains.Values.Min();
            _minimums[index] = minimum;
            return minimum;
        }

        public void Invalidate(int index) => _minimums[index] = null;
    }
}
