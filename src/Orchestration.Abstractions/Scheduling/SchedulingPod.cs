using k8s.Models;

namespace Orchestration.Scheduling;

/// <summary>
/// What the scheduler needs of a pod, derived once from the pod object: summed requests (the
/// larger of the containers' sum and any init container), the node it names, its node selector
/// and affinity, tolerations, host ports, priority, pod (anti-)affinity and topology spread.
/// </summary>
public sealed record SchedulingPod
{
    /// <summary>The namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>The pod's uid, when it has one (events name the preemptor by it).</summary>
    public string? Uid { get; init; }

    /// <summary>When the pod was created; the queue puts older pods of equal priority first.</summary>
    public DateTimeOffset CreationTimestamp { get; init; }

    /// <summary>Whether the pod is being deleted (it still holds its node's resources until it is gone).</summary>
    public bool Terminating { get; init; }

    /// <summary>
    /// Whether the pod may preempt others: false for <c>preemptionPolicy: Never</c>.
    /// </summary>
    public bool MayPreempt { get; init; } = true;

    /// <summary>The node a previous preemption nominated (status.nominatedNodeName), tried first.</summary>
    public string? NominatedNodeName { get; init; }

    /// <summary>Required pod affinity: every term must find a matching pod in the node's domain.</summary>
    public IReadOnlyList<PodAffinityTerm> RequiredAffinity { get; init; } = [];

    /// <summary>Required pod anti-affinity: no term may find a matching pod in the node's domain.</summary>
    public IReadOnlyList<PodAffinityTerm> RequiredAntiAffinity { get; init; } = [];

    /// <summary>Preferred pod affinity (weighted terms).</summary>
    public IReadOnlyList<PodAffinityTerm> PreferredAffinity { get; init; } = [];

    /// <summary>Preferred pod anti-affinity (weighted terms).</summary>
    public IReadOnlyList<PodAffinityTerm> PreferredAntiAffinity { get; init; } = [];

    /// <summary>Topology spread constraints.</summary>
    public IReadOnlyList<TopologySpreadConstraint> TopologySpreadConstraints { get; init; } = [];

    /// <summary>The pod's key, <c>namespace/name</c>.</summary>
    public string Key => $"{Namespace}/{Name}";

    /// <summary>What the pod asks for.</summary>
    public ResourceAmounts Requests { get; init; }

    /// <summary>
    /// The requests scoring counts: a container that asks for no cpu or memory counts as 100m and
    /// 200Mi (kube-scheduler's defaults), so pods without requests still spread.
    /// </summary>
    public ResourceAmounts NonZeroRequests { get; init; }

    /// <summary>The node the pod names (spec.nodeName), if any.</summary>
    public string? NodeName { get; init; }

    /// <summary>Labels a node must carry (spec.nodeSelector).</summary>
    public IReadOnlyDictionary<string, string> NodeSelector { get; init; } = new Dictionary<string, string>();

    /// <summary>Required node affinity: a node must match one of these terms.</summary>
    public IReadOnlyList<V1NodeSelectorTerm> RequiredTerms { get; init; } = [];

    /// <summary>Preferred node affinity: weighted terms that raise a node's score.</summary>
    public IReadOnlyList<V1PreferredSchedulingTerm> PreferredTerms { get; init; } = [];

    /// <summary>The taints the pod tolerates.</summary>
    public IReadOnlyList<V1Toleration> Tolerations { get; init; } = [];

    /// <summary>Host ports the pod binds (protocol/port).</summary>
    public IReadOnlyList<string> HostPorts { get; init; } = [];

    /// <summary>
    /// The pod's priority (spec.priority). A pod that names a PriorityClass the API server did not
    /// resolve into spec.priority counts as 0.
    /// </summary>
    public int Priority { get; init; }

    /// <summary>The pod's labels.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>Derives the scheduling view of a pod.</summary>
    public static SchedulingPod From(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var spec = pod.Spec ?? new V1PodSpec();
        var requests = (spec.Containers ?? []).Aggregate(ResourceAmounts.Zero, (sum, c) => sum + ResourceAmounts.From(c.Resources?.Requests));
        foreach (var init in spec.InitContainers ?? [])
        {
            var amounts = ResourceAmounts.From(init.Resources?.Requests);
            requests = new ResourceAmounts(Math.Max(requests.MilliCpu, amounts.MilliCpu), Math.Max(requests.MemoryBytes, amounts.MemoryBytes));
        }

        var nonZero = (spec.Containers ?? []).Aggregate(ResourceAmounts.Zero, (sum, c) =>
        {
            var amounts = ResourceAmounts.From(c.Resources?.Requests);
            return sum + new ResourceAmounts(amounts.MilliCpu == 0 ? 100 : amounts.MilliCpu, amounts.MemoryBytes == 0 ? 200L << 20 : amounts.MemoryBytes);
        });
        var podAffinity = spec.Affinity?.PodAffinity;
        var podAntiAffinity = spec.Affinity?.PodAntiAffinity;
        return new SchedulingPod
        {
            Uid = pod.Metadata?.Uid,
            CreationTimestamp = pod.Metadata?.CreationTimestamp is { } created ? new DateTimeOffset(DateTime.SpecifyKind(created, DateTimeKind.Utc)) : default,
            Terminating = pod.Metadata?.DeletionTimestamp is not null,
            MayPreempt = spec.PreemptionPolicy != "Never",
            NominatedNodeName = string.IsNullOrEmpty(pod.Status?.NominatedNodeName) ? null : pod.Status.NominatedNodeName,
            RequiredAffinity = podAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.Select(t => PodAffinityTerm.From(t)).ToList() ?? [],
            RequiredAntiAffinity = podAntiAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.Select(t => PodAffinityTerm.From(t)).ToList() ?? [],
            PreferredAffinity = podAffinity?.PreferredDuringSchedulingIgnoredDuringExecution?.Where(t => t.PodAffinityTerm is not null).Select(t => PodAffinityTerm.From(t.PodAffinityTerm, t.Weight)).ToList() ?? [],
            PreferredAntiAffinity = podAntiAffinity?.PreferredDuringSchedulingIgnoredDuringExecution?.Where(t => t.PodAffinityTerm is not null).Select(t => PodAffinityTerm.From(t.PodAffinityTerm, t.Weight)).ToList() ?? [],
            TopologySpreadConstraints = spec.TopologySpreadConstraints?.Select(TopologySpreadConstraint.From).ToList() ?? [],
            Namespace = pod.Metadata?.NamespaceProperty ?? "default",
            Name = pod.Metadata?.Name ?? "",
            Requests = requests,
            NonZeroRequests = nonZero,
            NodeName = string.IsNullOrEmpty(spec.NodeName) ? null : spec.NodeName,
            NodeSelector = spec.NodeSelector is { } selector ? new Dictionary<string, string>(selector) : new Dictionary<string, string>(),
            RequiredTerms = spec.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.NodeSelectorTerms?.ToList() ?? [],
            PreferredTerms = spec.Affinity?.NodeAffinity?.PreferredDuringSchedulingIgnoredDuringExecution?.ToList() ?? [],
            Tolerations = spec.Tolerations?.ToList() ?? [],
            HostPorts = (spec.Containers ?? []).SelectMany(c => c.Ports ?? []).Where(p => p.HostPort is > 0).Select(p => $"{p.Protocol ?? "TCP"}/{p.HostPort}").ToList(),
            Priority = spec.Priority ?? 0,
            Labels = pod.Metadata?.Labels is { } labels ? new Dictionary<string, string>(labels) : new Dictionary<string, string>(),
        };
    }
}
