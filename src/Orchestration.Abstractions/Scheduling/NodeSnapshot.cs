using System.Collections;

namespace Orchestration.Scheduling;

/// <summary>
/// The nodes the scheduler decides over, with indexes kept up to date as pods are placed and leave,
/// so that a pod's check need not visit every node (kube-scheduler precomputes the same in its
/// snapshot and pre-filter state). It indexes the required anti-affinity terms of placed pods by the
/// label they select (an incoming pod finds the domains that refuse it from its own labels), the
/// nodes that hold pods of each label (so counting the pods of one label per domain visits only
/// those nodes), and the domains of each node label key. A plain list of nodes works too; the
/// plugins then scan the nodes.
/// </summary>
public sealed class NodeSnapshot : IReadOnlyList<SchedulingNode>
{
    private readonly List<SchedulingNode> _nodes = [];
    private readonly Dictionary<string, int> _indexes = new(StringComparer.Ordinal);

    // (namespace, label key, label value) a term selects → (topology key, domain) → how many terms.
    private readonly Dictionary<(string Namespace, string Key, string Value), Dictionary<(string TopologyKey, string Domain), int>> _antiAffinityByLabel = [];

    // (namespace, label key, label value) of placed, non-terminating pods → node → how many such pods.
    private readonly Dictionary<(string Namespace, string Key, string Value), Dictionary<SchedulingNode, int>> _nodesByPodLabel = [];

    // Node label key → value (domain) → how many nodes.
    private readonly Dictionary<string, Dictionary<string, int>> _domains = new(StringComparer.Ordinal);

    // Terms whose selector is more than one key=value pair are matched one by one.
    private readonly List<(SchedulingPod Owner, PodAffinityTerm Term, string Domain)> _otherAntiAffinity = [];

    /// <summary>An empty snapshot.</summary>
    public NodeSnapshot()
    {
    }

    /// <summary>A snapshot of these nodes (and the pods already on them).</summary>
    public NodeSnapshot(IEnumerable<SchedulingNode> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        foreach (var node in nodes)
        {
            Add(node);
        }
    }

    /// <inheritdoc />
    public int Count => _nodes.Count;

    /// <inheritdoc />
    public SchedulingNode this[int index] => _nodes[index];

    /// <summary>The node of this name, or null.</summary>
    public SchedulingNode? Find(string name) => _indexes.TryGetValue(name, out var index) ? _nodes[index] : null;

    /// <summary>Adds a node (and indexes the pods on it).</summary>
    /// <exception cref="InvalidOperationException">The node is in a snapshot already, or one of its name is.</exception>
    public void Add(SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Snapshot is not null || _indexes.ContainsKey(node.Name))
        {
            throw new InvalidOperationException($"node {node.Name} is already in a snapshot; remove it (or the node of that name) first");
        }

        _indexes[node.Name] = _nodes.Count;
        _nodes.Add(node);
        node.Snapshot = this;
        IndexDomains(node, +1);
        foreach (var pod in node.Pods)
        {
            IndexLabels(node, pod, +1);
        }

        foreach (var pod in node.PodsWithRequiredAntiAffinity)
        {
            Index(node, pod, +1);
        }
    }

    /// <summary>Removes a node (and its pods from the indexes).</summary>
    /// <returns>Whether it was here.</returns>
    public bool Remove(SchedulingNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Snapshot != this || !_indexes.TryGetValue(node.Name, out var index))
        {
            return false;
        }

        foreach (var pod in node.PodsWithRequiredAntiAffinity)
        {
            Index(node, pod, -1);
        }

        foreach (var pod in node.Pods)
        {
            IndexLabels(node, pod, -1);
        }

        IndexDomains(node, -1);

        // Swap with the last so removal stays O(1); the order only moves where filtering starts.
        var last = _nodes[^1];
        _nodes[index] = last;
        _indexes[last.Name] = index;
        _nodes.RemoveAt(_nodes.Count - 1);
        _indexes.Remove(node.Name);
        node.Snapshot = null;
        return true;
    }

    /// <summary>
    /// Calls <paramref name="refused"/> with each (topology key, domain) where placed pods' required
    /// anti-affinity refuses <paramref name="pod"/>, and how many terms refuse it there.
    /// </summary>
    public void ForEachAntiAffinityAgainst(SchedulingPod pod, Action<string, string, int> refused)
    {
        ArgumentNullException.ThrowIfNull(pod);
        ArgumentNullException.ThrowIfNull(refused);
        if (_antiAffinityByLabel.Count > 0)
        {
            foreach (var (key, value) in pod.Labels)
            {
                if (_antiAffinityByLabel.TryGetValue((pod.Namespace, key, value), out var domains))
                {
                    foreach (var ((topologyKey, domain), count) in domains)
                    {
                        refused(topologyKey, domain, count);
                    }
                }
            }
        }

        foreach (var (owner, term, domain) in _otherAntiAffinity)
        {
            if (term.Matches(pod, owner.Namespace))
            {
                refused(term.TopologyKey, domain, 1);
            }
        }
    }

    /// <summary>The nodes holding non-terminating pods in <paramref name="namespace"/> labelled <paramref name="key"/>=<paramref name="value"/>, with how many each.</summary>
    public IReadOnlyDictionary<SchedulingNode, int> NodesWithPodLabel(string @namespace, string key, string value) =>
        _nodesByPodLabel.TryGetValue((@namespace, key, value), out var nodes) ? nodes : EmptyNodes;

    /// <summary>The values of node label <paramref name="key"/> (its topology domains), with how many nodes carry each.</summary>
    public IReadOnlyDictionary<string, int> DomainsOf(string key) =>
        _domains.TryGetValue(key, out var domains) ? domains : EmptyDomains;

    /// <inheritdoc />
    public IEnumerator<SchedulingNode> GetEnumerator() => _nodes.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static readonly Dictionary<SchedulingNode, int> EmptyNodes = [];
    private static readonly Dictionary<string, int> EmptyDomains = [];

    /// <summary>Called by a node of this snapshot when a pod arrives (+1) or leaves (-1).</summary>
    internal void IndexLabels(SchedulingNode node, SchedulingPod pod, int delta)
    {
        if (pod.Terminating)
        {
            return;
        }

        foreach (var (key, value) in pod.Labels)
        {
            var label = (pod.Namespace, key, value);
            if (!_nodesByPodLabel.TryGetValue(label, out var nodes))
            {
                _nodesByPodLabel[label] = nodes = [];
            }

            var count = nodes.GetValueOrDefault(node) + delta;
            if (count > 0)
            {
                nodes[node] = count;
            }
            else
            {
                nodes.Remove(node);
                if (nodes.Count == 0)
                {
                    _nodesByPodLabel.Remove(label);
                }
            }
        }
    }

    private void IndexDomains(SchedulingNode node, int delta)
    {
        foreach (var (key, value) in node.Labels)
        {
            if (!_domains.TryGetValue(key, out var domains))
            {
                _domains[key] = domains = new Dictionary<string, int>(StringComparer.Ordinal);
            }

            var count = domains.GetValueOrDefault(value) + delta;
            if (count > 0)
            {
                domains[value] = count;
            }
            else
            {
                domains.Remove(value);
                if (domains.Count == 0)
                {
                    _domains.Remove(key);
                }
            }
        }
    }

    /// <summary>Called by a node of this snapshot when a pod with required anti-affinity arrives (+1) or leaves (-1).</summary>
    internal void Index(SchedulingNode node, SchedulingPod pod, int delta)
    {
        foreach (var term in pod.RequiredAntiAffinity)
        {
            if (!node.Labels.TryGetValue(term.TopologyKey, out var domain))
            {
                continue;
            }

            if (term.Selector.SingleLabel is not { } label)
            {
                if (delta > 0)
                {
                    _otherAntiAffinity.Add((pod, term, domain));
                }
                else
                {
                    var at = _otherAntiAffinity.FindIndex(e => ReferenceEquals(e.Owner, pod) && ReferenceEquals(e.Term, term) && e.Domain == domain);
                    if (at >= 0)
                    {
                        _otherAntiAffinity.RemoveAt(at);
                    }
                }

                continue;
            }

            foreach (var ns in term.Namespaces.Count == 0 ? [pod.Namespace] : term.Namespaces)
            {
                var selected = (ns, label.Key, label.Value);
                if (!_antiAffinityByLabel.TryGetValue(selected, out var domains))
                {
                    _antiAffinityByLabel[selected] = domains = [];
                }

                var place = (term.TopologyKey, domain);
                var count = domains.GetValueOrDefault(place) + delta;
                if (count > 0)
                {
                    domains[place] = count;
                }
                else
                {
                    domains.Remove(place);
                    if (domains.Count == 0)
                    {
                        _antiAffinityByLabel.Remove(selected);
                    }
                }
            }
        }
    }
}
