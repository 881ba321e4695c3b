using Orchestration.Scheduling.Plugins;

namespace Orchestration.Scheduling;

/// <summary>
/// The default scheduler: pre-filter, then filter nodes (stopping once enough fit, from a start
/// that rotates, as kube-scheduler's percentageOfNodesToScore does), score those that fit with the
/// weighted score plugins, pick the best, and account for the pod on it. No I/O: embeddable.
/// </summary>
public sealed class DefaultScheduler : IScheduler
{
    private readonly IReadOnlyList<IPreFilterPlugin> _preFilters;
    private readonly IReadOnlyList<IFilterPlugin> _filters;
    private readonly IReadOnlyList<IScorePlugin> _scores;
    private readonly Lock _sync = new();
    private int _nextStart;

    /// <summary>A scheduler with the given plugins.</summary>
    public DefaultScheduler(IEnumerable<ISchedulingPlugin> plugins)
    {
        ArgumentNullException.ThrowIfNull(plugins);
        var list = plugins.ToList();
        _preFilters = list.OfType<IPreFilterPlugin>().ToList();
        _filters = list.OfType<IFilterPlugin>().ToList();
        _scores = list.OfType<IScorePlugin>().ToList();
    }

    /// <summary>The default plugins: NodeName, NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit and balanced allocation.</summary>
    public static IReadOnlyList<ISchedulingPlugin> DefaultPlugins() =>
    [
        new NodeNamePlugin(), new NodeUnschedulablePlugin(), new TaintTolerationPlugin(), new NodeAffinityPlugin(),
        new NodePortsPlugin(), new NodeResourcesFitPlugin(), new BalancedAllocationPlugin(),
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

        foreach (var preFilter in _preFilters)
        {
            if (preFilter.PreFilter(pod, nodes) is { } reason)
            {
                return new ScheduleResult(null, $"0/{nodes.Count} nodes are available: {reason}.");
            }
        }

        lock (_sync)
        {
            var wanted = FeasibleNodesToFind(nodes.Count);
            var feasible = new List<SchedulingNode>(Math.Min(wanted, nodes.Count));
            var reasons = new Dictionary<string, int>(StringComparer.Ordinal);
            var start = _nextStart % nodes.Count;
            var examined = 0;
            for (; examined < nodes.Count && feasible.Count < wanted; examined++)
            {
                var node = nodes[(start + examined) % nodes.Count];
                var fits = true;
                foreach (var filter in _filters)
                {
                    var result = filter.Filter(pod, node);
                    if (!result.IsSuccess)
                    {
                        reasons[result.Reason!] = reasons.GetValueOrDefault(result.Reason!) + 1;
                        fits = false;
                        break;
                    }
                }

                if (fits)
                {
                    feasible.Add(node);
                }
            }

            _nextStart = (start + examined) % nodes.Count;
            if (feasible.Count == 0)
            {
                var parts = reasons.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Value} {r.Key}");
                return new ScheduleResult(null, $"0/{nodes.Count} nodes are available: {string.Join(", ", parts)}. preemption: 0/{nodes.Count} nodes are available: {nodes.Count} Preemption is not helpful for scheduling.");
            }

            var best = feasible[0];
            var bestScore = long.MinValue;
            foreach (var node in feasible)
            {
                long score = 0;
                foreach (var plugin in _scores)
                {
                    score += plugin.Weight * plugin.Score(pod, node);
                }

                if (score > bestScore)
                {
                    best = node;
                    bestScore = score;
                }
            }

            best.Add(pod);
            return new ScheduleResult(best.Name, null);
        }
    }
}
