namespace Orchestration.Scheduling.Plugins;

/// <summary>
/// InterPodAffinity: the pod's required affinity needs a matching pod in the node's domain, its
/// required anti-affinity needs none there, and pods already placed with required anti-affinity
/// keep out pods they match from their domains. Preferred terms score. The counts per topology
/// domain are taken once per pod in the pre-filter (kube-scheduler's PreFilter state), so each
/// node's check is a few dictionary lookups.
/// </summary>
public sealed class InterPodAffinityPlugin : IPreFilterExtensions, IFilterPlugin, INormalizeScorePlugin
{
    /// <summary>The reason for a node whose domain lacks a pod the required affinity asks for.</summary>
    public const string AffinityRulesNotMatch = "node(s) didn't match pod affinity rules";

    /// <summary>The reason for a node whose domain holds a pod the required anti-affinity refuses.</summary>
    public const string AntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules";

    /// <summary>The reason for a node whose domain holds a pod whose anti-affinity refuses the incoming pod.</summary>
    public const string ExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules";

    private const string StateKey = "InterPodAffinity";

    /// <inheritdoc />
    public string Name => "InterPodAffinity";

    /// <inheritdoc />
    public int Weight => 2;

    /// <inheritdoc />
    public string? PreFilter(SchedulingCycle cycle, SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(cycle);
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(nodes);
        var hasOwnTerms = pod.RequiredAffinity.Count + pod.RequiredAntiAffinity.Count + pod.PreferredAffinity.Count + pod.PreferredAntiAffinity.Count > 0;
        AffinityState? state = hasOwnTerms ? new AffinityState(pod) : null;
        if (nodes is NodeSnapshot snapshot)
        {
            // From the snapshot's indexes: placed pods' anti-affinity by the labels it selects, and for
            // single-label terms only the nodes holding such pods.
            snapshot.ForEachAntiAffinityAgainst(pod, (key, domain, count) =>
            {
                state ??= new AffinityState(pod);
                state.AddExisting(key, domain, count);
            });
            if (hasOwnTerms && state!.CountOwnTerms(pod, snapshot))
            {
                hasOwnTerms = false;
            }
        }

        if (hasOwnTerms || nodes is not NodeSnapshot)
        {
            foreach (var node in nodes)
            {
                if (nodes is not NodeSnapshot)
                {
                    // Existing pods' anti-affinity: only the pods that carry such terms are visited.
                    foreach (var existing in node.PodsWithRequiredAntiAffinity)
                    {
                        foreach (var term in existing.RequiredAntiAffinity)
                        {
                            if (node.Labels.TryGetValue(term.TopologyKey, out var domain) && term.Matches(pod, existing.Namespace))
                            {
                                state ??= new AffinityState(pod);
                                state.AddExisting(term.TopologyKey, domain, 1);
                            }
                        }
                    }
                }

                if (hasOwnTerms)
                {
                    state!.CountOwnTerms(pod, node, 1);
                }
            }
        }

        if (state is not null)
        {
            cycle.Write(StateKey, state);
        }

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
        if (cycle.Read<AffinityState>(StateKey) is not { } state)
        {
            return FilterResult.Fits;
        }

        if (!state.SatisfiesAffinity(pod, node))
        {
            return FilterResult.UnschedulableAndUnresolvable(AffinityRulesNotMatch);
        }

        for (var i = 0; i < pod.RequiredAntiAffinity.Count; i++)
        {
            if (state.CountIn(state.RequiredAnti[i], pod.RequiredAntiAffinity[i].TopologyKey, node) > 0)
            {
                return FilterResult.Unschedulable(AntiAffinityRulesNotMatch);
            }
        }

        foreach (var (key, domains) in state.ExistingAnti)
        {
            if (node.Labels.TryGetValue(key, out var domain) && domains.GetValueOrDefault(domain) > 0)
            {
                return FilterResult.Unschedulable(ExistingAntiAffinityRulesNotMatch);
            }
        }

        return FilterResult.Fits;
    }

    /// <summary>The weights of the preferred affinity terms times the matching pods in the node's domain, minus the same for anti-affinity.</summary>
    public long Score(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(cycle);
        ArgumentNullException.ThrowIfNull(pod);
        if (cycle.Read<AffinityState>(StateKey) is not { } state)
        {
            return 0;
        }

        long score = 0;
        for (var i = 0; i < pod.PreferredAffinity.Count; i++)
        {
            score += pod.PreferredAffinity[i].Weight * state.CountIn(state.PreferredAffinity[i], pod.PreferredAffinity[i].TopologyKey, node);
        }

        for (var i = 0; i < pod.PreferredAntiAffinity.Count; i++)
        {
            score -= pod.PreferredAntiAffinity[i].Weight * state.CountIn(state.PreferredAnti[i], pod.PreferredAntiAffinity[i].TopologyKey, node);
        }

        return score;
    }

    /// <summary>The lowest raw score maps to 0, the highest to 100; all equal is 0.</summary>
    public void NormalizeScores(SchedulingCycle cycle, SchedulingPod pod, Span<long> scores)
    {
        long min = long.MaxValue, max = long.MinValue;
        foreach (var score in scores)
        {
            min = Math.Min(min, score);
            max = Math.Max(max, score);
        }

        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = max > min ? 100 * (scores[i] - min) / (max - min) : 0;
        }
    }

    private static void Adjust(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod other, SchedulingNode node, int delta)
    {
        var state = cycle.Read<AffinityState>(StateKey);
        foreach (var term in other.RequiredAntiAffinity)
        {
            if (node.Labels.TryGetValue(term.TopologyKey, out var domain) && term.Matches(pod, other.Namespace))
            {
                if (state is null)
                {
                    state = new AffinityState(pod);
                    cycle.Write(StateKey, state);
                }

                state.AddExisting(term.TopologyKey, domain, delta);
            }
        }

        if (state is not null && !other.Terminating)
        {
            state.CountPod(pod, other, node, delta);
        }
    }

    private sealed class AffinityState
    {
        public AffinityState(SchedulingPod pod)
        {
            RequiredAffinity = Counters(pod.RequiredAffinity.Count);
            RequiredAnti = Counters(pod.RequiredAntiAffinity.Count);
            PreferredAffinity = Counters(pod.PreferredAffinity.Count);
            PreferredAnti = Counters(pod.PreferredAntiAffinity.Count);
        }

        /// <summary>Per term of the incoming pod: domain to matching pods there.</summary>
        public Dictionary<string, int>[] RequiredAffinity { get; }

        public Dictionary<string, int>[] RequiredAnti { get; }

        public Dictionary<string, int>[] PreferredAffinity { get; }

        public Dictionary<string, int>[] PreferredAnti { get; }

        /// <summary>Topology key, then domain, to placed pods whose anti-affinity refuses the incoming pod there.</summary>
        public Dictionary<string, Dictionary<string, int>> ExistingAnti { get; } = new(StringComparer.Ordinal);

        public void AddExisting(string key, string domain, int delta)
        {
            if (!ExistingAnti.TryGetValue(key, out var domains))
            {
                ExistingAnti[key] = domains = new Dictionary<string, int>(StringComparer.Ordinal);
            }

            domains[domain] = domains.GetValueOrDefault(domain) + delta;
        }

        public int CountIn(Dictionary<string, int> counts, string topologyKey, SchedulingNode node) =>
            node.Labels.TryGetValue(topologyKey, out var domain) ? counts.GetValueOrDefault(domain) : 0;

        /// <summary>Adds the node's pods that match each of the incoming pod's terms to that term's domain count.</summary>
        public void CountOwnTerms(SchedulingPod pod, SchedulingNode node, int sign)
        {
            Count(pod.RequiredAffinity, RequiredAffinity, pod, node, sign);
            Count(pod.RequiredAntiAffinity, RequiredAnti, pod, node, sign);
            Count(pod.PreferredAffinity, PreferredAffinity, pod, node, sign);
            Count(pod.PreferredAntiAffinity, PreferredAnti, pod, node, sign);
        }

        /// <summary>
        /// Counts the incoming pod's terms from the snapshot's index of nodes per pod label, visiting only
        /// the nodes that hold matching pods; false (nothing counted) when a term's selector is more than one label.
        /// </summary>
        public bool CountOwnTerms(SchedulingPod pod, NodeSnapshot snapshot)
        {
            if (!AllSingleLabel(pod.RequiredAffinity) || !AllSingleLabel(pod.RequiredAntiAffinity) || !AllSingleLabel(pod.PreferredAffinity) || !AllSingleLabel(pod.PreferredAntiAffinity))
            {
                return false;
            }

            Count(pod.RequiredAffinity, RequiredAffinity, pod, snapshot);
            Count(pod.RequiredAntiAffinity, RequiredAnti, pod, snapshot);
            Count(pod.PreferredAffinity, PreferredAffinity, pod, snapshot);
            Count(pod.PreferredAntiAffinity, PreferredAnti, pod, snapshot);
            return true;
        }

        /// <summary>Adds or takes back one pod on the node in every term of the incoming pod it matches.</summary>
        public void CountPod(SchedulingPod pod, SchedulingPod other, SchedulingNode node, int delta)
        {
            CountOne(pod.RequiredAffinity, RequiredAffinity, pod, other, node, delta);
            CountOne(pod.RequiredAntiAffinity, RequiredAnti, pod, other, node, delta);
            CountOne(pod.PreferredAffinity, PreferredAffinity, pod, other, node, delta);
            CountOne(pod.PreferredAntiAffinity, PreferredAnti, pod, other, node, delta);
        }

        /// <summary>
        /// Every required affinity term finds a pod in the node's domain; or, when no pod anywhere matches
        /// the terms, the pod matches them itself (the first pod of a group that wants to be together).
        /// </summary>
        public bool SatisfiesAffinity(SchedulingPod pod, SchedulingNode node)
        {
            if (pod.RequiredAffinity.Count == 0)
            {
                return true;
            }

            var all = true;
            for (var i = 0; i < pod.RequiredAffinity.Count; i++)
            {
                if (CountIn(RequiredAffinity[i], pod.RequiredAffinity[i].TopologyKey, node) <= 0)
                {
                    all = false;
                    break;
                }
            }

            if (all)
            {
                return true;
            }

            return RequiredAffinity.All(counts => counts.Values.All(c => c <= 0)) && pod.RequiredAffinity.All(t => t.Matches(pod, pod.Namespace));
        }

        private static void Count(IReadOnlyList<PodAffinityTerm> terms, Dictionary<string, int>[] counts, SchedulingPod pod, SchedulingNode node, int sign)
        {
            for (var i = 0; i < terms.Count; i++)
            {
                var term = terms[i];
                if (!node.Labels.TryGetValue(term.TopologyKey, out var domain))
                {
                    continue;
                }

                var matching = 0;
                if (term.Namespaces.Count == 0)
                {
                    matching = node.CountMatchingPods(pod.Namespace, term.Selector);
                }
                else
                {
                    foreach (var ns in term.Namespaces)
                    {
                        matching += node.CountMatchingPods(ns, term.Selector);
                    }
                }

                if (matching != 0)
                {
                    counts[i][domain] = counts[i].GetValueOrDefault(domain) + (sign * matching);
                }
            }
        }

        private static bool AllSingleLabel(IReadOnlyList<PodAffinityTerm> terms)
        {
            foreach (var term in terms)
            {
                if (term.Selector.SingleLabel is null)
                {
                    return false;
                }
            }

            return true;
        }

        private static void Count(IReadOnlyList<PodAffinityTerm> terms, Dictionary<string, int>[] counts, SchedulingPod pod, NodeSnapshot snapshot)
        {
            for (var i = 0; i < terms.Count; i++)
            {
                var term = terms[i];
                var label = term.Selector.SingleLabel!.Value;
                foreach (var ns in term.Namespaces.Count == 0 ? [pod.Namespace] : term.Namespaces)
                {
                    foreach (var (node, matching) in snapshot.NodesWithPodLabel(ns, label.Key, label.Value))
                    {
                        if (node.Labels.TryGetValue(term.TopologyKey, out var domain))
                        {
                            counts[i][domain] = counts[i].GetValueOrDefault(domain) + matching;
                        }
                    }
                }
            }
        }

        private static void CountOne(IReadOnlyList<PodAffinityTerm> terms, Dictionary<string, int>[] counts, SchedulingPod pod, SchedulingPod other, SchedulingNode node, int delta)
        {
            for (var i = 0; i < terms.Count; i++)
            {
                if (node.Labels.TryGetValue(terms[i].TopologyKey, out var domain) && terms[i].Matches(other, pod.Namespace))
                {
                    counts[i][domain] = counts[i].GetValueOrDefault(domain) + delta;
                }
            }
        }

        private static Dictionary<string, int>[] Counters(int count)
        {
            var counters = new Dictionary<string, int>[count];
            for (var i = 0; i < count; i++)
            {
                counters[i] = new Dictionary<string, int>(StringComparer.Ordinal);
            }

            return counters;
        }
    }
}
