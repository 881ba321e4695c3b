using k8s.Models;

namespace Orchestration.Scheduling.Cache;

/// <summary>
/// kube-scheduler's cache: the nodes and the pods bound to them, kept as a <see cref="NodeSnapshot"/>
/// that each informer event adjusts in place (a node's view is rebuilt only when the node itself
/// changes; a pod adds or takes back its requests, ports and labels on its node), so a decision never
/// lists the cluster. A pod the scheduler placed is assumed on its node at once, before the binding
/// shows up, so back-to-back decisions never overcommit a node; the informer's view of the bound pod
/// then replaces the assumption. An assumed pod whose binding failed is forgotten; one whose binding
/// succeeded but that the informer never shows expires after <c>assumedPodExpiry</c>. A pod that
/// preemption nominated for a node holds its room there until it is tried again.
/// </summary>
public sealed class SchedulerCache
{
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _assumedPodExpiry;
    private readonly Lock _sync = new();
    private readonly NodeSnapshot _snapshot = new();

    // Every node view with pods or a Node object; a deleted node with pods left stays, out of the snapshot.
    private readonly Dictionary<string, SchedulingNode> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PodState> _pods = new(StringComparer.Ordinal);

    /// <summary>An empty cache; assumed pods whose binding finished expire after <paramref name="assumedPodExpiry"/> (zero: never).</summary>
    public SchedulerCache(TimeProvider timeProvider, TimeSpan assumedPodExpiry)
    {
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _assumedPodExpiry = assumedPodExpiry;
    }

    /// <summary>How many nodes pods can be scheduled to.</summary>
    public int NodeCount
    {
        get
        {
            lock (_sync)
            {
                return _snapshot.Count;
            }
        }
    }

    /// <summary>The view of a schedulable node, or null. Read it only while nothing else changes the cache (tests).</summary>
    public SchedulingNode? FindNode(string name)
    {
        lock (_sync)
        {
            return _snapshot.Find(name);
        }
    }

    /// <summary>Whether the cache accounts for the pod (bound, assumed or nominated).</summary>
    public bool Knows(string podKey)
    {
        lock (_sync)
        {
            return _pods.ContainsKey(podKey);
        }
    }

    /// <summary>Whether the pod is assumed (placed by the scheduler, not yet seen bound).</summary>
    public bool IsAssumed(string podKey)
    {
        lock (_sync)
        {
            return _pods.TryGetValue(podKey, out var state) && state.Assumed;
        }
    }

    /// <summary>A node appeared or changed; its pods carry over to the new view.</summary>
    public void AddOrUpdateNode(V1Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var view = SchedulingNode.From(node);
        lock (_sync)
        {
            if (_nodes.TryGetValue(view.Name, out var previous))
            {
                _snapshot.Remove(previous);
                view.WithPodsOf(previous);
            }

            _nodes[view.Name] = view;
            _snapshot.Add(view);
        }
    }

    /// <summary>A node is gone: nothing more is scheduled to it; its pods stay accounted until they go.</summary>
    public void RemoveNode(string name)
    {
        lock (_sync)
        {
            if (_nodes.TryGetValue(name, out var view))
            {
                _snapshot.Remove(view);
                if (view.PodCount == 0)
                {
                    _nodes.Remove(name);
                }
                else
                {
                    // A placeholder keeps the pods' accounting should the node come back before they go.
                    _nodes[name] = new SchedulingNode(name, ResourceAmounts.Zero, 0).WithPodsOf(view);
                }
            }
        }
    }

    /// <summary>A pod bound to a node (and not finished) appeared or changed; an assumption of it is confirmed.</summary>
    public void AddOrUpdatePod(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var nodeName = pod.Spec?.NodeName;
        if (string.IsNullOrEmpty(nodeName))
        {
            return;
        }

        var view = SchedulingPod.From(pod);
        lock (_sync)
        {
            TakeBack(view.Key);
            NodeFor(nodeName).Add(view);
            _pods[view.Key] = new PodState(view, nodeName, Assumed: false, Deadline: null);
        }
    }

    /// <summary>A pod was deleted or finished: its node gets back what it held.</summary>
    public void RemovePod(string podKey)
    {
        lock (_sync)
        {
            TakeBack(podKey);
        }
    }

    /// <summary>
    /// Decides for <paramref name="pod"/> over the cache's nodes and, when it is placed, assumes it there
    /// (the scheduler has accounted for it on its node). Expired assumptions go first.
    /// </summary>
    public ScheduleResult Schedule(IScheduler scheduler, SchedulingPod pod)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(pod);
        lock (_sync)
        {
            CleanupExpiredAssumedPods();
            TakeBack(pod.Key);
            var result = scheduler.Schedule(pod, _snapshot);
            if (result.NodeName is { } node)
            {
                _pods[pod.Key] = new PodState(pod, node, Assumed: true, Deadline: null);
            }

            return result;
        }
    }

    /// <summary>
    /// Preemption nominated <paramref name="node"/> for <paramref name="pod"/>: until the pod is tried
    /// again the node counts it, so the room its victims free is not taken by other pods meanwhile
    /// (kube-scheduler filters with nominated pods for the same reason). Trying the pod again, binding
    /// it or deleting it lifts the nomination.
    /// </summary>
    public void Nominate(SchedulingPod pod, string node)
    {
        ArgumentNullException.ThrowIfNull(pod);
        lock (_sync)
        {
            TakeBack(pod.Key);
            NodeFor(node).Add(pod);
            _pods[pod.Key] = new PodState(pod, node, Assumed: false, Deadline: null);
        }
    }

    /// <summary>The binding of an assumed pod succeeded: the assumption now expires if the informer never confirms it.</summary>
    public void FinishBinding(string podKey)
    {
        lock (_sync)
        {
            if (_pods.TryGetValue(podKey, out var state) && state.Assumed && _assumedPodExpiry > TimeSpan.Zero)
            {
                _pods[podKey] = state with { Deadline = _timeProvider.GetUtcNow() + _assumedPodExpiry };
            }
        }
    }

    /// <summary>The binding of an assumed pod failed: its node gets back what it held.</summary>
    public void Forget(string podKey)
    {
        lock (_sync)
        {
            if (_pods.TryGetValue(podKey, out var state) && state.Assumed)
            {
                TakeBack(podKey);
            }
        }
    }

    /// <summary>Drops assumed pods whose binding finished longer than the expiry ago without the informer confirming them.</summary>
    public void CleanupExpiredAssumedPods()
    {
        lock (_sync)
        {
            var now = _timeProvider.GetUtcNow();
            foreach (var (key, _) in _pods.Where(p => p.Value.Assumed && p.Value.Deadline is { } deadline && deadline <= now).ToList())
            {
                TakeBack(key);
            }
        }
    }

    private SchedulingNode NodeFor(string name)
    {
        if (!_nodes.TryGetValue(name, out var view))
        {
            // Bound to a node the cache has not seen (yet): account for it out of the snapshot.
            view = new SchedulingNode(name, ResourceAmounts.Zero, 0);
            _nodes[name] = view;
        }

        return view;
    }

    private void TakeBack(string podKey)
    {
        if (!_pods.Remove(podKey, out var state) || !_nodes.TryGetValue(state.NodeName, out var view))
        {
            return;
        }

        view.Remove(state.Pod);
        if (view.PodCount == 0 && !ReferenceEquals(_snapshot.Find(state.NodeName), view))
        {
            _nodes.Remove(state.NodeName);
        }
    }

    private sealed record PodState(SchedulingPod Pod, string NodeName, bool Assumed, DateTimeOffset? Deadline);
}
