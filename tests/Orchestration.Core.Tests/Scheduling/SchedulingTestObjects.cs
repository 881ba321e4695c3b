using k8s.Models;
using Orchestration.Scheduling;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>Nodes and pods for the scheduler's unit tests.</summary>
internal static class SchedulingTestObjects
{
    public static SchedulingNode Node(string name, string? zone = null, long milliCpu = 4000, int maxPods = 110, V1Taint[]? taints = null)
    {
        var labels = new Dictionary<string, string> { ["kubernetes.io/hostname"] = name };
        if (zone is not null)
        {
            labels["zone"] = zone;
        }

        return new SchedulingNode(name, new ResourceAmounts(milliCpu, 8L << 30), maxPods, labels, taints);
    }

    /// <summary>The nodes as a plain list, or as a <see cref="NodeSnapshot"/> whose indexes the plugins then use instead of scanning.</summary>
    public static IReadOnlyList<SchedulingNode> Nodes(bool indexed, params SchedulingNode[] nodes) =>
        indexed ? new NodeSnapshot(nodes) : nodes.ToList();

    public static SchedulingPod Pod(string name, string? app = null, long milliCpu = 100, int priority = 0, Action<V1PodSpec>? spec = null, DateTime? created = null)
    {
        var podSpec = new V1PodSpec
        {
            Priority = priority,
            Containers =
            [
                new V1Container
                {
                    Name = "c",
                    Image = "busybox",
                    Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new($"{milliCpu}m"), ["memory"] = new("64Mi") } },
                },
            ],
        };
        spec?.Invoke(podSpec);
        return SchedulingPod.From(new V1Pod
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                NamespaceProperty = "default",
                Labels = app is null ? null : new Dictionary<string, string> { ["app"] = app },
                CreationTimestamp = created,
            },
            Spec = podSpec,
        });
    }

    public static V1LabelSelector App(string app) => new() { MatchLabels = new Dictionary<string, string> { ["app"] = app } };

    public static Action<V1PodSpec> Spread(string app, string key = "zone", int maxSkew = 1, string whenUnsatisfiable = "DoNotSchedule", int? minDomains = null) =>
        s => s.TopologySpreadConstraints = [new V1TopologySpreadConstraint { MaxSkew = maxSkew, TopologyKey = key, WhenUnsatisfiable = whenUnsatisfiable, LabelSelector = App(app), MinDomains = minDomains }];

    public static Action<V1PodSpec> AntiAffinity(string app, string key = "kubernetes.io/hostname") =>
        s => s.Affinity = new V1Affinity { PodAntiAffinity = new V1PodAntiAffinity { RequiredDuringSchedulingIgnoredDuringExecution = [new V1PodAffinityTerm { TopologyKey = key, LabelSelector = App(app) }] } };

    public static Action<V1PodSpec> Affinity(string app, string key = "zone") =>
        s => s.Affinity = new V1Affinity { PodAffinity = new V1PodAffinity { RequiredDuringSchedulingIgnoredDuringExecution = [new V1PodAffinityTerm { TopologyKey = key, LabelSelector = App(app) }] } };

    public static Action<V1PodSpec> PreferredAffinity(string app, string key = "zone", int weight = 50) =>
        s => s.Affinity = new V1Affinity { PodAffinity = new V1PodAffinity { PreferredDuringSchedulingIgnoredDuringExecution = [new V1WeightedPodAffinityTerm { Weight = weight, PodAffinityTerm = new V1PodAffinityTerm { TopologyKey = key, LabelSelector = App(app) } }] } };
}
