using k8s.Models;

namespace Orchestration.Scheduling;

/// <summary>
/// A pod (anti-)affinity term, compiled: pods matching <see cref="Selector"/> in <see cref="Namespaces"/>
/// and placed in the same <see cref="TopologyKey"/> domain as the node.
/// </summary>
/// <param name="Selector">Which pods the term is about.</param>
/// <param name="TopologyKey">The node label that defines a domain (<c>kubernetes.io/hostname</c>, <c>topology.kubernetes.io/zone</c>).</param>
/// <param name="Namespaces">The namespaces of those pods; empty means the namespace of the pod that carries the term.</param>
/// <param name="Weight">For preferred terms, how much the term counts (1 to 100); 0 for required terms.</param>
public sealed record PodAffinityTerm(PodSelector Selector, string TopologyKey, IReadOnlyList<string> Namespaces, int Weight = 0)
{
    /// <summary>Whether <paramref name="pod"/> is one of the pods the term, carried by a pod in <paramref name="ownerNamespace"/>, is about.</summary>
    public bool Matches(SchedulingPod pod, string ownerNamespace)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var inNamespace = Namespaces.Count == 0 ? pod.Namespace == ownerNamespace : Namespaces.Contains(pod.Namespace);
        return inNamespace && Selector.Matches(pod.Labels);
    }

    /// <summary>Compiles an API term.</summary>
    public static PodAffinityTerm From(V1PodAffinityTerm term, int weight = 0)
    {
        ArgumentNullException.ThrowIfNull(term);
        return new PodAffinityTerm(PodSelector.From(term.LabelSelector), term.TopologyKey ?? "", term.Namespaces?.ToList() ?? [], weight);
    }
}
