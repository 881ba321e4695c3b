using k8s.Models;

namespace Orchestration.Scheduling;

/// <summary>
/// A node as the scheduler sees it: what it offers (allocatable), what its pods already request,
/// its labels, taints and used host ports, and the pods on it (with per-label counts, so affinity
/// and spread ask "how many pods labelled app=web here" without visiting them). Kept up to date
/// incrementally as pods are placed and leave.
/// </summary>
public sealed class SchedulingNode
{
    // A port may be bound by several pods with different host IPs in Kubernetes; here one protocol/port
    // is one slot, so the count keeps a second pod's removal from freeing the first's port.
    private readonly Dictionary<string, int> _usedPorts = new(StringComparer.Ordinal);
    private readonly List<SchedulingPod> _pods = [];
    private readonly List<SchedulingPod> _podsWithRequiredAntiAffinity = [];
    private readonly Dictionary<(string Namespace, string Key, string Value), int> _labelCounts = [];

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

    /// <summary>The pods placed here.</summary>
    public IReadOnlyList<SchedulingPod> Pods => _pods;

    /// <summary>The pods here that carry required anti-affinity terms (the incoming pod must not break them).</summary>
    public IReadOnlyList<SchedulingPod> PodsWithRequiredAntiAffinity => _podsWithRequiredAntiAffinity;

    /// <summary>The snapshot this node belongs to, which indexes its pods' anti-affinity.</summary>
    internal NodeSnapshot? Snapshot { get; set; }

    /// <summary>Whether a host port (protocol/port) is taken.</summary>
    public bool UsesPort(string port) => _usedPorts.ContainsKey(port);

    /// <summary>How many pods here, not terminating, in <paramref name="namespace"/> carry the label <paramref name="key"/>=<paramref name="value"/>.</summary>
    public int CountPodsWithLabel(string @namespace, string key, string value) => _labelCounts.GetValueOrDefault((@namespace, key, value));

    /// <summary>
    /// How many pods here, not terminating, in <paramref name="namespace"/> match <paramref name="selector"/>;
    /// a single-label selector is answered from the label counts.
    /// </summary>
    public int CountMatchingPods(string @namespace, PodSelector selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        if (selector.SingleLabel is { } label)
        {
            return CountPodsWithLabel(@namespace, label.Key, label.Value);
        }

        var count = 0;
        foreach (var pod in _pods)
        {
            if (!pod.Terminating && pod.Namespace == @namespace && selector.Matches(pod.Labels))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>Accounts for a pod placed here.</summary>
    public void Add(SchedulingPod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        Requested += pod.Requests;
        NonZeroRequested += pod.NonZeroRequests;
        PodCount++;
        _pods.Add(pod);
        if (pod.RequiredAntiAffinity.Count > 0)
        {
            _podsWithRequiredAntiAffinity.Add(pod);
            Snapshot?.Index(this, pod, +1);
        }

        foreach (var port in pod.HostPorts)
        {
            _usedPorts[port] = _usedPorts.GetValueOrDefault(port) + 1;
        }

        if (!pod.Terminating)
        {
            foreach (var (key, value) in pod.Labels)
            {
                var label = (pod.Namespace, key, value);
                _labelCounts[label] = _labelCounts.GetValueOrDefault(label) + 1;
            }
        }

        Snapshot?.IndexLabels(this, pod, +1);
    }

    /// <summary>Accounts for a pod that left; the pod is found by namespace and name.</summary>
    /// <returns>Whether the pod was here.</returns>
    public bool Remove(SchedulingPod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var index = _pods.FindIndex(p => p.Name == pod.Name && p.Namespace == pod.Namespace);
        if (index < 0)
        {
            return false;
        }

        // The stored view is the one that was added: its requests and labels are what to take back.
        var placed = _pods[index];
        _pods.RemoveAt(index);
        if (placed.RequiredAntiAffinity.Count > 0)
        {
            _podsWithRequiredAntiAffinity.Remove(placed);
            Snapshot?.Index(this, placed, -1);
        }

        Requested -= placed.Requests;
        NonZeroRequested -= placed.NonZeroRequests;
        PodCount--;
        foreach (var port in placed.HostPorts)
        {
            if (_usedPorts.TryGetValue(port, out var users) && users > 1)
            {
                _usedPorts[port] = users - 1;
            }
            else
            {
                _usedPorts.Remove(port);
            }
        }

        if (!placed.Terminating)
        {
            foreach (var (key, value) in placed.Labels)
            {
                var label = (placed.Namespace, key, value);
                if (_labelCounts.TryGetValue(label, out var count) && count > 1)
                {
                    _labelCounts[label] = count - 1;
                }
                else
                {
                    _labelCounts.Remove(label);
                }
            }
        }

        Snapshot?.IndexLabels(this, placed, -1);
        return true;
    }

    /// <summary>A view of the same node with other properties (labels, taints, allocatable) that keeps this one's pods.</summary>
    public SchedulingNode WithPodsOf(SchedulingNode previous)
    {
        ArgumentNullException.ThrowIfNull(previous);
        foreach (var pod in previous._pods)
        {
            Add(pod);
        }

        return this;
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
