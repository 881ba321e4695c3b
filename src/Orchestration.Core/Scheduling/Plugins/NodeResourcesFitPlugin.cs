namespace Orchestration.Scheduling.Plugins;

/// <summary>NodeResourcesFit: a node must have room for the pod's requests; scored by least-allocated.</summary>
public sealed class NodeResourcesFitPlugin : IFilterPlugin, IScorePlugin
{
    /// <inheritdoc />
    public string Name => "NodeResourcesFit";

    /// <inheritdoc />
    public int Weight => 1;

    /// <inheritdoc />
    public FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        if (node.PodCount + 1 > node.MaxPods)
        {
            return FilterResult.Unschedulable("Too many pods");
        }

        if (pod.Requests.MilliCpu > 0 && node.Requested.MilliCpu + pod.Requests.MilliCpu > node.Allocatable.MilliCpu)
        {
            return FilterResult.Unschedulable("Insufficient cpu");
        }

        if (pod.Requests.MemoryBytes > 0 && node.Requested.MemoryBytes + pod.Requests.MemoryBytes > node.Allocatable.MemoryBytes)
        {
            return FilterResult.Unschedulable("Insufficient memory");
        }

        return FilterResult.Fits;
    }

    /// <summary>Least allocated: the share of cpu and memory left after the pod, averaged.</summary>
    public long Score(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        var after = node.NonZeroRequested + pod.NonZeroRequests;
        return (Free(after.MilliCpu, node.Allocatable.MilliCpu) + Free(after.MemoryBytes, node.Allocatable.MemoryBytes)) / 2;
    }

    private static long Free(long requested, long capacity) => capacity <= 0 ? 0 : Math.Max(0, (capacity - requested) * 100 / capacity);
}

/// <summary>NodeResourcesBalancedAllocation: nodes whose cpu and memory would be used alike score higher.</summary>
public sealed class BalancedAllocationPlugin : IScorePlugin
{
    /// <inheritdoc />
    public string Name => "NodeResourcesBalancedAllocation";

    /// <inheritdoc />
    public int Weight => 1;

    /// <inheritdoc />
    public long Score(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        var after = node.NonZeroRequested + pod.NonZeroRequests;
        var cpu = node.Allocatable.MilliCpu <= 0 ? 0 : (double)after.MilliCpu / node.Allocatable.MilliCpu;
        var memory = node.Allocatable.MemoryBytes <= 0 ? 0 : (double)after.MemoryBytes / node.Allocatable.MemoryBytes;
        return (long)((1 - Math.Min(1, Math.Abs(cpu - memory))) * 100);
    }
}
