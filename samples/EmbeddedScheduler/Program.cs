// The scheduler embedded in a program: describe nodes and pods in memory, get placements. No API
// server, no store, no I/O. Shows the filters (resources, selectors, taints), topology spread and
// anti-affinity, and priority preemption (the program evicts the victims itself, then tries again).
//   dotnet run --project samples/EmbeddedScheduler
using k8s.Models;
using Orchestration.Scheduling;

// A NodeSnapshot (a plain list works too) keeps indexes that make affinity checks cheap on large clusters.
var nodes = new NodeSnapshot(
[
    new("edge-1", new ResourceAmounts(MilliCpu: 2000, MemoryBytes: 4L << 30), maxPods: 20, labels: new Dictionary<string, string> { ["zone"] = "edge" }),
    new("core-1", new ResourceAmounts(8000, 32L << 30), 110, new Dictionary<string, string> { ["zone"] = "core-a" }),
    new("core-2", new ResourceAmounts(8000, 32L << 30), 110, new Dictionary<string, string> { ["zone"] = "core-b" }),
    new("gpu-1", new ResourceAmounts(8000, 64L << 30), 110, new Dictionary<string, string> { ["zone"] = "core-a", ["gpu"] = "true" },
        taints: [new V1Taint { Key = "gpu", Value = "true", Effect = "NoSchedule" }]),
]);

V1Pod Workload(string name, string cpu, string memory, Action<V1PodSpec>? customize = null, string? app = null)
{
    var spec = new V1PodSpec
    {
        Containers = [new V1Container { Name = "main", Image = "app", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu), ["memory"] = new(memory) } } }],
    };
    customize?.Invoke(spec);
    var labels = app is null ? null : new Dictionary<string, string> { ["app"] = app };
    return new V1Pod { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Labels = labels }, Spec = spec };
}

var webSpread = new V1TopologySpreadConstraint
{
    MaxSkew = 1,
    TopologyKey = "zone",
    WhenUnsatisfiable = "DoNotSchedule",
    LabelSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "web" } },
};
var oneCachePerNode = new V1Affinity
{
    PodAntiAffinity = new V1PodAntiAffinity
    {
        RequiredDuringSchedulingIgnoredDuringExecution = [new V1PodAffinityTerm { TopologyKey = "zone", LabelSelector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "cache" } } }],
    },
};

var pods = new List<V1Pod>();
for (var i = 1; i <= 3; i++)
{
    // Spread over the three zones without taints: one each.
    pods.Add(Workload($"web-{i}", "500m", "512Mi", s => s.TopologySpreadConstraints = [webSpread], app: "web"));
}

pods.Add(Workload("cache-1", "1", "8Gi", s => s.Affinity = oneCachePerNode, app: "cache"));
pods.Add(Workload("cache-2", "1", "8Gi", s => s.Affinity = oneCachePerNode, app: "cache"));
pods.Add(Workload("trainer", "4", "32Gi", s => s.Tolerations = [new V1Toleration { Key = "gpu", OperatorProperty = "Exists", Effect = "NoSchedule" }]));
pods.Add(Workload("batch-1", "6", "8Gi", s => s.Priority = 0));
pods.Add(Workload("batch-2", "6", "8Gi", s => s.Priority = 0));
pods.Add(Workload("too-big", "64", "1Ti"));

// An urgent pod that fits nowhere until lower-priority pods make room.
pods.Add(Workload("urgent", "6", "8Gi", s => s.Priority = 1000));

var scheduler = DefaultScheduler.CreateDefault();
foreach (var pod in pods)
{
    var view = SchedulingPod.From(pod);
    var result = scheduler.Schedule(view, nodes);
    if (result.NominatedNodeName is { } nominated)
    {
        // Preemption chose a node and the pods to evict there: evict them, then try again.
        Console.WriteLine($"{pod.Metadata.Name,-8} preempts {string.Join(", ", result.Victims.Select(v => v.Name))} on {nominated}");
        var node = nodes.Find(nominated)!;
        foreach (var victim in result.Victims)
        {
            node.Remove(victim);
        }

        result = scheduler.Schedule(view with { NominatedNodeName = nominated }, nodes);
    }

    Console.WriteLine(result.Scheduled ? $"{pod.Metadata.Name,-8} -> {result.NodeName}" : $"{pod.Metadata.Name,-8} pending: {result.Message}");
}
