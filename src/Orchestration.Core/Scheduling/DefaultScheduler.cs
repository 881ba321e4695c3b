using Orchestration.Scheduling.Plugins;

namespace Orchestration.Scheduling;

/// <summary>
/// The default scheduler: pre-filter, then filter nodes (stopping once enough fit, from a start
/// that rotates, as kube-scheduler's percentageOfNodesToScore does), score those that fit with the
/// weighted score plugins, pick the best, and account for the pod on it. When nothing fits, the
/// post-filter plugins (preemption) may nominate a node and victims. No I/O: embeddable.
/// </summary>
public sealed class DefaultScheduler : IScheduler, ISchedulingFramework
{
    private readonly IReadOnlyList<IPreFilterPlugin> _preFilters;
    private readonly IReadOnlyList<IPreFilterExtensions> _preFilterExtensions;
    private readonly IReadOnlyList<IFilterPlugin> _filters;
    private readonly IReadOnlyList<IScorePlugin> _scores;
    private readonly IReadOnlyList<IPostFilterPlugin> _postFilters;
    private readonly IReadOnlyList<IReservePlugin> _reserves;
    private readonly Lock _sync = new();
    private int _nextStart;

    // Reused between pods (under the lock) so that scoring allocates nothing per pod.
    private long[] _totals = [];
    private long[] _raw = [];

    /// <summary>A scheduler with the given plugins.</summary>
    public DefaultScheduler(IEnumerable<ISchedulingPlugin> plugins)
    {
        ArgumentNullException.ThrowIfNull(plugins);
        var list = plugins.ToList();
        _preFilters = list.OfType<IPreFilterPlugin>().ToList();
        _preFilterExtensions = list.OfType<IPreFilterExtensions>().ToList();
        _filters = list.OfType<IFilterPlugin>().ToList();
        _scores = list.OfType<IScorePlugin>().ToList();
        _postFilters = list.OfType<IPostFilterPlugin>().ToList();
        _reserves = list.OfType<IReservePlugin>().ToList();
        BindPlugins = list.OfType<IBindPlugin>().ToList();
        QueueSort = list.OfType<IQueueSortPlugin>().LastOrDefault() ?? new PrioritySortPlugin();
    }

    /// <summary>The bind plugins, asked in order before the default binder.</summary>
    public IReadOnlyList<IBindPlugin> BindPlugins { get; }

    /// <summary>The plugin that orders the scheduling queue: the last one given, so one added after the standard plugins replaces PrioritySort (a queue has one order).</summary>
    public IQueueSortPlugin QueueSort { get; }

    /// <summary>
    /// The default plugins, as kube-scheduler's default profile enables them: PrioritySort, NodeName,
    /// NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
    /// NodeResourcesBalancedAllocation, PodTopologySpread, InterPodAffinity and DefaultPreemption.
    /// </summary>
    public static IReadOnlyList<ISchedulingPlugin> DefaultPlugins() =>
    [
        new PrioritySortPlugin(),
        new NodeNamePlugin(), new NodeUnschedulablePlugin(), new TaintTolerationPlugin(), new NodeAffinityPlugin(),
        new NodePortsPlugin(), new NodeResourcesFitPlugin(), new BalancedAllocationPlugin(),
        new PodTopologySpreadPlugin(), new InterPodAffinityPlugin(), new DefaultPreemptionPlugin(),
    ];

    /// <summary>A scheduler with the default plugins.</summary>
    public static DefaultScheduler CreateDefault() => new(DefaultPlugins());

    /// <summary>How many feasible nodes are enough before scoring (kube-scheduler's adaptive percentage).</summary>
    public static int FeasibleNodesToFind(int nodes)
    {
        if (nodes < 100)
        {
            return nodes;
        }

        var percentage = Math.Max(5, 50 - (nodes / 125));
        return Math.Max(100, nodes * percentage / 100);
    }

    /// <inheritdoc />
    public ScheduleResult Schedule(SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Count == 0)
        {
            return new ScheduleResult(null, "0/0 nodes are available: no nodes available to schedule pods.");
        }

        // One decision at a time: pre-filter state and the nodes' accounting must not interleave.
        lock (_sync)
        {
            var cycle = new SchedulingCycle { Nodes = nodes };
            foreach (var preFilter in _preFilters)
            {
                if (preFilter.PreFilter(cycle, pod, nodes) is { } reason)
                {
                    return new ScheduleResult(null, $"0/{nodes.Count} nodes are available: {reason}.");
                }
            }

            // A node a previous preemption made room on is tried first, as kube-scheduler does.
            if (pod.NominatedNodeName is { } nominated)
            {
                foreach (var node in nodes)
                {
                    if (node.Name == nominated && RunFilters(cycle, pod, node).IsSuccess)
                    {
                        return Assume(pod, node);
                    }
                }
            }

            var wanted = FeasibleNodesToFind(nodes.Count);
            var feasible = new List<SchedulingNode>(Math.Min(wanted, nodes.Count));
            var start = _nextStart % nodes.Count;
            var examined = 0;
            for (; examined < nodes.Count && feasible.Count < wanted; examined++)
            {
                var node = nodes[(start + examined) % nodes.Count];
                if (RunFilters(cycle, pod, node).IsSuccess)
                {
                    feasible.Add(node);
                }
            }

            _nextStart = (start + examined) % nodes.Count;
            if (feasible.Count == 0)
            {
                return Unschedulable(cycle, pod, nodes);
            }

            var best = feasible.Count == 1 ? feasible[0] : Best(cycle, pod, feasible);
            return Assume(pod, best);
        }
    }

    /// <summary>Undoes the reserve plugins' reservations for a pod whose binding failed, in reverse order.</summary>
    public void Unreserve(SchedulingPod pod, SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(node);
        lock (_sync)
        {
            for (var i = _reserves.Count - 1; i >= 0; i--)
            {
                _reserves[i].Unreserve(pod, node);
            }
        }
    }

    /// <summary>The pod counts on its node from now on, and the reserve plugins hold what they need there.</summary>
    private ScheduleResult Assume(SchedulingPod pod, SchedulingNode node)
    {
        node.Add(pod);
        foreach (var reserve in _reserves)
        {
            reserve.Reserve(pod, node);
        }

        return new ScheduleResult(node.Name, null);
    }

    /// <inheritdoc />
    public FilterResult RunFilters(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        foreach (var filter in _filters)
        {
            var result = filter.Filter(cycle, pod, node);
            if (!result.IsSuccess)
            {
                return result;
            }
        }

        return FilterResult.Fits;
    }

    /// <inheritdoc />
    public void RunAddPod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod added, SchedulingNode node)
    {
        foreach (var extension in _preFilterExtensions)
        {
            extension.AddPod(cycle, pod, added, node);
        }
    }

    /// <inheritdoc />
    public void RunRemovePod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod removed, SchedulingNode node)
    {
        foreach (var extension in _preFilterExtensions)
        {
            extension.RemovePod(cycle, pod, removed, node);
        }
    }

    private SchedulingNode Best(SchedulingCycle cycle, SchedulingPod pod, List<SchedulingNode> feasible)
    {
        if (_totals.Length < feasible.Count)
        {
            _totals = new long[feasible.Count];
            _raw = new long[feasible.Count];
        }

        var totals = _totals.AsSpan(0, feasible.Count);
        var raw = _raw.AsSpan(0, feasible.Count);
        totals.Clear();
        foreach (var plugin in _scores)
        {
            for (var i = 0; i < feasible.Count; i++)
            {
                raw[i] = plugin.Score(cycle, pod, feasible[i]);
            }

            if (plugin is INormalizeScorePlugin normalizer)
            {
                normalizer.NormalizeScores(cycle, pod, raw);
            }

            for (var i = 0; i < feasible.Count; i++)
            {
                totals[i] += plugin.Weight * raw[i];
            }
        }

        var best = 0;
        for (var i = 1; i < feasible.Count; i++)
        {
            if (totals[i] > totals[best])
            {
                best = i;
            }
        }

        return feasible[best];
    }

    private ScheduleResult Unschedulable(SchedulingCycle cycle, SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes)
    {
        // Every node was examined and refused; ask again for each one's verdict (a rare path, so the
        // filter loop above need not keep a status per node).
        var statuses = new FilterResult[nodes.Count];
        var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < nodes.Count; i++)
        {
            statuses[i] = RunFilters(cycle, pod, nodes[i]);
            if (statuses[i].Reason is { } reason)
            {
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
            }
        }

        // kube-scheduler sorts the "count reason" strings themselves, so counts order before words.
        var message = $"0/{nodes.Count} nodes are available: {string.Join(", ", reasons.Select(r => $"{r.Value} {r.Key}").Order(StringComparer.Ordinal))}.";
        foreach (var postFilter in _postFilters)
        {
            var outcome = postFilter.PostFilter(cycle, pod, nodes, statuses, this);
            if (outcome.NominatedNodeName is { } nominated)
            {
                return new ScheduleResult(null, message) { NominatedNodeName = nominated, Victims = outcome.Victims };
            }

            if (outcome.Message is { } why)
            {
                message += " " + why;
            }
        }

        return new ScheduleResult(null, message);
    }
}
