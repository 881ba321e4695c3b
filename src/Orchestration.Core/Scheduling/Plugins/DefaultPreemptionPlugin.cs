namespace Orchestration.Scheduling.Plugins;

/// <summary>
/// DefaultPreemption (PostFilter): when a pod fits nowhere, find a node where evicting pods of lower
/// priority makes it fit. On each candidate node every lower-priority pod is taken off, then the most
/// important are put back one by one while the pod still fits (kube-scheduler's reprieve), so the
/// victims are as few and as unimportant as possible. Among candidates, the node whose most
/// important victim has the lowest priority wins, then the smallest sum of victim priorities, then
/// the fewest victims. Nodes where eviction cannot help (an untolerated taint, a selector) are not
/// tried. Pods with <c>preemptionPolicy: Never</c> never preempt.
/// </summary>
public sealed class DefaultPreemptionPlugin : IPostFilterPlugin
{
    /// <summary>Why a node whose filter failure no eviction can cure was not tried.</summary>
    public const string NotHelpful = "Preemption is not helpful for scheduling";

    /// <summary>Why a node with no pod of lower priority was not a candidate.</summary>
    public const string NoVictims = "No preemption victims found for incoming pod";

    /// <inheritdoc />
    public string Name => "DefaultPreemption";

    /// <summary>
    /// How many candidates are enough before choosing (kube-scheduler's minCandidateNodesPercentage 10
    /// and minCandidateNodesAbsolute 100), so a large cluster is not searched to the end.
    /// </summary>
    public static int CandidatesToFind(int nodes) => Math.Min(nodes, Math.Max(100, nodes / 10));

    /// <inheritdoc />
    public PostFilterResult PostFilter(SchedulingCycle cycle, SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes, IReadOnlyList<FilterResult> statuses, ISchedulingFramework framework)
    {
        ArgumentNullException.ThrowIfNull(cycle);
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(statuses);
        ArgumentNullException.ThrowIfNull(framework);
        if (!pod.MayPreempt)
        {
            return new PostFilterResult(null, [], "preemption: not eligible due to preemptionPolicy=Never.");
        }

        if (pod.NominatedNodeName is { } nominated)
        {
            for (var i = 0; i < nodes.Count; i++)
            {
                // An earlier preemption's victims are still leaving: wait for them rather than evict
                // more; unless the nominated node can no longer take the pod at all.
                if (nodes[i].Name == nominated && !statuses[i].Unresolvable && nodes[i].Pods.Any(p => p.Terminating && p.Priority < pod.Priority))
                {
                    return new PostFilterResult(null, [], "preemption: not eligible due to a terminating pod on the nominated node.");
                }
            }
        }

        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        var wanted = CandidatesToFind(nodes.Count);
        var found = 0;
        (SchedulingNode Node, List<SchedulingPod> Victims)? best = null;
        for (var i = 0; i < nodes.Count && found < wanted; i++)
        {
            if (statuses[i].IsSuccess || statuses[i].Unresolvable)
            {
                reasons[NotHelpful] = reasons.GetValueOrDefault(NotHelpful) + 1;
                continue;
            }

            var (victims, failure) = SelectVictims(cycle, pod, nodes[i], framework);
            if (victims is null)
            {
                reasons[failure!] = reasons.GetValueOrDefault(failure!) + 1;
                continue;
            }

            found++;
            if (best is null || Better(victims, best.Value.Victims))
            {
                best = (nodes[i], victims);
            }
        }

        if (best is { } chosen)
        {
            return new PostFilterResult(chosen.Node.Name, chosen.Victims, null);
        }

        var parts = reasons.Select(r => $"{r.Value} {r.Key}").Order(StringComparer.Ordinal);
        return new PostFilterResult(null, [], $"preemption: 0/{nodes.Count} nodes are available: {string.Join(", ", parts)}.");
    }

    private static (List<SchedulingPod>? Victims, string? Failure) SelectVictims(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node, ISchedulingFramework framework)
    {
        // Most important first: they are the first to be put back.
        var potential = node.Pods.Where(p => p.Priority < pod.Priority)
            .OrderByDescending(p => p.Priority).ThenBy(p => p.CreationTimestamp)
            .ToList();
        if (potential.Count == 0)
        {
            return (null, NoVictims);
        }

        foreach (var victim in potential)
        {
            node.Remove(victim);
            framework.RunRemovePod(cycle, pod, victim, node);
        }

        var victims = new List<SchedulingPod>();
        var fits = framework.RunFilters(cycle, pod, node);
        if (fits.IsSuccess)
        {
            foreach (var candidate in potential)
            {
                node.Add(candidate);
                framework.RunAddPod(cycle, pod, candidate, node);
                if (!framework.RunFilters(cycle, pod, node).IsSuccess)
                {
                    node.Remove(candidate);
                    framework.RunRemovePod(cycle, pod, candidate, node);
                    victims.Add(candidate);
                }
            }
        }
        else
        {
            victims.AddRange(potential);
        }

        // The node goes back to what it was: the victims leave only when they are really deleted.
        foreach (var victim in victims)
        {
            node.Add(victim);
            framework.RunAddPod(cycle, pod, victim, node);
        }

        return fits.IsSuccess && victims.Count > 0 ? (victims, null) : (null, fits.IsSuccess ? NoVictims : fits.Reason);
    }

    private static bool Better(List<SchedulingPod> candidate, List<SchedulingPod> best)
    {
        var highest = candidate.Max(p => p.Priority).CompareTo(best.Max(p => p.Priority));
        if (highest != 0)
        {
            return highest < 0;
        }

        var sum = candidate.Sum(p => (long)p.Priority).CompareTo(best.Sum(p => (long)p.Priority));
        return sum != 0 ? sum < 0 : candidate.Count < best.Count;
    }
}
