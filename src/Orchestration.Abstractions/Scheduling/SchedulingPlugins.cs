namespace Orchestration.Scheduling;

/// <summary>Whether a node can take a pod, and if not, why, in kube-scheduler's words.</summary>
/// <param name="Reason">Null when the node fits; otherwise the reason (<c>Insufficient cpu</c>).</param>
public readonly record struct FilterResult(string? Reason)
{
    /// <summary>The node fits.</summary>
    public static FilterResult Fits => default;

    /// <summary>Whether the node fits.</summary>
    public bool IsSuccess => Reason is null;

    /// <summary>The node does not fit, for this reason.</summary>
    public static FilterResult Unschedulable(string reason) => new(reason);
}

/// <summary>A plugin of the scheduling framework; each point is an interface of its own.</summary>
public interface ISchedulingPlugin
{
    /// <summary>The plugin's name (<c>NodeResourcesFit</c>).</summary>
    string Name { get; }
}

/// <summary>Orders the scheduling queue: the pod that should go first compares lower.</summary>
public interface IQueueSortPlugin : ISchedulingPlugin
{
    /// <summary>Compares two pending pods.</summary>
    int Compare(SchedulingPod x, SchedulingPod y);
}

/// <summary>Checks a pod once before any node (a pod that can never fit fails here).</summary>
public interface IPreFilterPlugin : ISchedulingPlugin
{
    /// <summary>Null when the pod may go on; otherwise why it cannot be scheduled at all.</summary>
    string? PreFilter(SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes);
}

/// <summary>Says whether one node can take a pod.</summary>
public interface IFilterPlugin : ISchedulingPlugin
{
    /// <summary>Whether <paramref name="node"/> can take <paramref name="pod"/>.</summary>
    FilterResult Filter(SchedulingPod pod, SchedulingNode node);
}

/// <summary>Scores the nodes that fit: higher is better, 0 to 100, weighted by <see cref="Weight"/>.</summary>
public interface IScorePlugin : ISchedulingPlugin
{
    /// <summary>How much this plugin's score counts.</summary>
    int Weight { get; }

    /// <summary>The score of one node for the pod, 0 to 100.</summary>
    long Score(SchedulingPod pod, SchedulingNode node);
}

/// <summary>Holds a node's resources for a pod once it is chosen, before binding.</summary>
public interface IReservePlugin : ISchedulingPlugin
{
    /// <summary>Reserves; <see cref="Unreserve"/> undoes it if binding fails.</summary>
    void Reserve(SchedulingPod pod, SchedulingNode node);

    /// <summary>Undoes <see cref="Reserve"/>.</summary>
    void Unreserve(SchedulingPod pod, SchedulingNode node);
}

/// <summary>Binds a pod to its node (the pods/binding subresource).</summary>
public interface IBindPlugin : ISchedulingPlugin
{
    /// <summary>Binds.</summary>
    Task BindAsync(SchedulingPod pod, string nodeName, CancellationToken cancellationToken);
}

/// <summary>Where a pod goes, or why it goes nowhere.</summary>
/// <param name="NodeName">The chosen node, or null.</param>
/// <param name="Message">Why no node fits, as kube-scheduler words FailedScheduling (<c>0/3 nodes are available: 3 Insufficient cpu.</c>).</param>
public sealed record ScheduleResult(string? NodeName, string? Message)
{
    /// <summary>Whether a node was chosen.</summary>
    public bool Scheduled => NodeName is not null;
}

/// <summary>
/// The scheduler's decision for one pod over a set of nodes, with no I/O: embeddable in any program
/// that has nodes and pods in memory.
/// </summary>
public interface IScheduler
{
    /// <summary>Chooses a node for the pod among <paramref name="nodes"/>; on success the node accounts for the pod.</summary>
    ScheduleResult Schedule(SchedulingPod pod, IReadOnlyList<SchedulingNode> nodes);
}
