using k8s.Models;

namespace Orchestration.Scheduling;

/// <summary>
/// A node as the scheduler sees it: what it offers (allocatable), what its pods already request,
/// its labels, taints and used host ports. Kept up to date incrementally as pods are placed.
/// </summary>
public sealed class SchedulingNode
{
    private readonly HashSet<string> _usedPorts = new(StringComparer.Ordinal);

    /// <summary>Creates a node view.</summary>
    public SchedulingNode(string name, ResourceAmounts allocatable, int maxPods, IReadOnlyDictionary<string, string>? labels = null, IReadOnlyList<V1Taint>? taints = null, bool unschedulable = false)
    {
        Name = name;
        Allocatable = allocatable;
        MaxPods = maxPods;
        Labels = labels ?? new Dictionary<string, string>();
        Taints = taints ?? [];
        Unschedulable = unschedulable;
    }

    /// <summary>The node's name.</summary>
    public string Name { get; }

    /// <summary>What the node offers to pods.</summary>
    public ResourceAmounts Allocatable { get; }

    /// <summary>How many pods it takes.</summary>
    public int MaxPods { get; }

    /// <summary>Its labels.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; }

    /// <summary>Its taints.</summary>
    public IReadOnlyList<V1Taint> Taints { get; }

    /// <summary>Whether it is cordoned.</summary>
    public bool Unschedulable { get; }

    /// <summary>What its pods request together.</summary>
    public ResourceAmounts Requested { get; private set; }

    /// <summary>What its pods request together, counting pods without requests at the scoring defaults.</summary>
    public ResourceAmounts NonZeroRequested { get; private set; }

    /// <summary>How many pods it holds.</summary>
    public int PodCount { get; private set; }

    /// <summary>Whether a host port (protocol/port) is taken.</summary>
    public bool UsesPort(string port) => _usedPorts.Contains(port);

    /// <summary>Accounts for a pod placed here.</summary>
    public void Add(SchedulingPod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        Requested += pod.Requests;
        NonZeroRequested += pod.NonZeroRequests;
        PodCount++;
        foreach (var port in pod.HostPorts)
        {
            _usedPorts.Add(port);
        }
    }

    /// <summary>Accounts for a pod that left.</summary>
    public void Remove(SchedulingPod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        Requested -= pod.Requests;
        NonZeroRequested -= pod.NonZeroRequests;
        PodCount--;
        foreach (var port in pod.HostPorts)
        {
            _usedPorts.Remove(port);
        }
    }

    /// <summary>Derives the view of a Node object.</summary>
    public static SchedulingNode From(V1Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var allocatable = node.Status?.Allocatable ?? node.Status?.Capacity;
        var pods = allocatable is not null && allocatable.TryGetValue("pods", out var p) ? (int)p.ToDecimal() : 110;
        return new SchedulingNode(
            node.Metadata.Name,
            ResourceAmounts.From(allocatable),
            pods,
            node.Metadata.Labels is { } labels ? new Dictionary<string, string>(labels) : null,
            node.Spec?.Taints?.ToList(),
            node.Spec?.Unschedulable == true);
    }
}
