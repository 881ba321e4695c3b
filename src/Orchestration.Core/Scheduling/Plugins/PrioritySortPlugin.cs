namespace Orchestration.Scheduling.Plugins;

/// <summary>PrioritySort: higher spec.priority first; among equals, the older pod first.</summary>
public sealed class PrioritySortPlugin : IQueueSortPlugin
{
    /// <inheritdoc />
    public string Name => "PrioritySort";

    /// <inheritdoc />
    public int Compare(SchedulingPod x, SchedulingPod y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var byPriority = y.Priority.CompareTo(x.Priority);
        return byPriority != 0 ? byPriority : x.CreationTimestamp.CompareTo(y.CreationTimestamp);
    }
}
