namespace Orchestration.Scheduling;

/// <summary>Whether a node can take a pod, and if not, why, in kube-scheduler's words.</summary>
/// <param name="Reason">Null when the node fits; otherwise the reason (<c>Insufficient cpu</c>).</param>
/// <param name="Unresolvable">
/// True when evicting pods from the node cannot help (an untolerated taint, a selector that does not
/// match): preemption skips such nodes ("Preemption is not helpful for scheduling").
/// </param>
public readonly record struct FilterResult(string? Reason, bool Unresolvable = false)
{
    /// <summary>The node fits.</summary>
    public static FilterResult Fits => default;

    /// <summary>Whether the node fits.</summary>
    public bool IsSuccess => Reason is null;

    /// <summary>The node does not fit, for this reason, but might once lower-priority pods leave it.</summary>
    public static FilterResult Unschedulable(string reason) => new(reason);

    /// <summary>The node does not fit, for this reason, whatever pods leave it.</summary>
    public static FilterResult UnschedulableAndUnresolvable(string reason) => new(reason, true);
}

/// <summary>A plugin of the scheduling framework; each point is an interface of its own.</summary>
public interface ISchedulingPlugin
{
    /// <summary>The plugin's name (<c>NodeResourcesFit</c>).</summary>
    string Name { get; }
}

/// <summary>Orders the scheduling queue: the pod that should go first compares lower.</summary>
/// <remarks>A scheduler has one queue order: the last queue sort plugin registered wins, so one of the user's replaces PrioritySort.</remarks>
public interface IQueueSortPlugin : ISchedulingPlugin
{
    /// <summary>Compares two pending pods.</summary>
    int Compare(SchedulingPod x, SchedulingPod y);
}

/// <summary>
/// Checks a pod once before any node (a pod that can never fit fails here), and may leave state in
/// the <see cref="SchedulingCycle"/> for its filter and score steps.
/// </summary>
public interface IPreFilterPlugin : ISchedulingPlugin
{
    /// <summary>Null when the pod may go on; otherwise why it cannot be scheduled at all.</summary>
    string? PreFilter(SchedulingCycle cycle, SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes);
}

/// <summary>
/// A pre-filter whose state depends on the pods on the nodes: preemption tells it when it takes a
/// pod off a node (or puts it back) to see whether the incoming pod would then fit.
/// </summary>
public interface IPreFilterExtensions : IPreFilterPlugin
{
    /// <summary>Updates the cycle's state as if <paramref name="added"/> were on <paramref name="node"/>.</summary>
    void AddPod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod added, SchedulingNode node);

    /// <summary>Updates the cycle's state as if <paramref name="removed"/> had left <paramref name="node"/>.</summary>
    void RemovePod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod removed, SchedulingNode node);
}

/// <summary>Says whether one node can take a pod.</summary>
public interface IFilterPlugin : ISchedulingPlugin
{
    /// <summary>Whether <paramref name="node"/> can take <paramref name="pod"/>.</summary>
    FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node);
}

/// <summary>
/// Runs when no node fits (kube-scheduler's PostFilter): preemption looks for a node where evicting
/// lower-priority pods would make room.
/// </summary>
public interface IPostFilterPlugin : ISchedulingPlugin
{
    /// <summary>What to do about a pod that fits nowhere; <paramref name="statuses"/> holds each node's filter verdict.</summary>
    PostFilterResult PostFilter(SchedulingCycle cycle, SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes, IReadOnlyList<FilterResult> statuses, ISchedulingFramework framework);
}

/// <summary>What the framework lends a post-filter plugin: running the filters again on a changed node.</summary>
public interface ISchedulingFramework
{
    /// <summary>Runs every filter on a node; the first failure wins.</summary>
    FilterResult RunFilters(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node);

    /// <summary>Tells the pre-filters' state that <paramref name="added"/> is (back) on <paramref name="node"/>.</summary>
    void RunAddPod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod added, SchedulingNode node);

    /// <summary>Tells the pre-filters' state that <paramref name="removed"/> left <paramref name="node"/>.</summary>
    void RunRemovePod(SchedulingCycle cycle, SchedulingPod pod, SchedulingPod removed, SchedulingNode node);
}

/// <summary>The outcome of a post-filter: a node nominated with the pods to evict there, or why not.</summary>
/// <param name="NominatedNodeName">The node the pod will take once the victims are gone, or null.</param>
/// <param name="Victims">The pods to evict.</param>
/// <param name="Message">When nothing is nominated: why, as kube-scheduler words it (<c>preemption: 0/3 nodes are available: ...</c>).</param>
public sealed record PostFilterResult(string? NominatedNodeName, IReadOnlyList<SchedulingPod> Victims, string? Message);

/// <summary>Scores the nodes that fit: higher is better, 0 to 100, weighted by <see cref="Weight"/>.</summary>
public interface IScorePlugin : ISchedulingPlugin
{
    /// <summary>How much this plugin's score counts.</summary>
    int Weight { get; }

    /// <summary>The score of one node for the pod (0 to 100, or a raw value a <see cref="INormalizeScorePlugin"/> maps there).</summary>
    long Score(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node);
}

/// <summary>A score plugin whose raw scores are only meaningful relative to each other: it maps them to 0 to 100.</summary>
public interface INormalizeScorePlugin : IScorePlugin
{
    /// <summary>Rewrites the raw scores of the feasible nodes (in the same order) to 0 to 100.</summary>
    void NormalizeScores(SchedulingCycle cycle, SchedulingPod pod, Span<long> scores);
}

/// <summary>
/// Holds something of a node's for a pod once the pod is chosen for it, before binding (a volume,
/// a device, a quota of its own): called in registration order right after the node is chosen,
/// inside the scheduling cycle (so keep it quick and free of I/O).
/// </summary>
public interface IReservePlugin : ISchedulingPlugin
{
    /// <summary>Reserves for <paramref name="pod"/> on <paramref name="node"/>; <see cref="Unreserve"/> undoes it if binding fails.</summary>
    void Reserve(SchedulingPod pod, SchedulingNode node);

    /// <summary>Undoes <see cref="Reserve"/>: binding failed or the pod went before it was bound. Called in reverse order.</summary>
    void Unreserve(SchedulingPod pod, SchedulingNode node);
}

/// <summary>
/// Binds a pod to its chosen node in the binding cycle, off the scheduling loop. Bind plugins are
/// asked in registration order until one binds; when none does, the default binder writes the
/// pods/binding subresource through the API.
/// </summary>
public interface IBindPlugin : ISchedulingPlugin
{
    /// <summary>Binds <paramref name="pod"/> to <paramref name="nodeName"/>, or declines (false) to leave it to the next binder.</summary>
    /// <returns>Whether this plugin bound the pod.</returns>
    /// <exception cref="Exception">Binding failed: the reservation is undone and the pod tried again with back-off.</exception>
    Task<bool> BindAsync(SchedulingPod pod, string nodeName, CancellationToken cancellationToken);
}

/// <summary>Where a pod goes, or why it goes nowhere.</summary>
/// <param name="NodeName">The chosen node, or null.</param>
/// <param name="Message">Why no node fits, as kube-scheduler words FailedScheduling (<c>0/3 nodes are available: 3 Insufficient cpu.</c>).</param>
public sealed record ScheduleResult(string? NodeName, string? Message)
{
    /// <summary>Whether a node was chosen.</summary>
    public bool Scheduled => NodeName is not null;

    /// <summary>
    /// When the pod fits nowhere but preemption found room: the node it is nominated for. The caller
    /// evicts <see cref="Victims"/> and tries the pod again.
    /// </summary>
    public string? NominatedNodeName { get; init; }

    /// <summary>The lower-priority pods to evict from <see cref="NominatedNodeName"/>.</summary>
    public IReadOnlyList<SchedulingPod> Victims { get; init; } = [];
}

/// <summary>
/// The scheduler's decision for one pod over a set of nodes, with no I/O: embeddable in any program
/// that has nodes and pods in memory.
/// </summary>
public interface IScheduler
{
    /// <summary>
    /// Chooses a node for the pod among <paramref name="nodes"/>; on success the node accounts for the
    /// pod. When no node fits, the result says why, and may nominate a node with victims to evict.
    /// </summary>
    ScheduleResult Schedule(SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes);
}
