// The scheduler embedded in a program: describe nodes and pods in memory, get placements.
//   dotnet run --project samples/EmbeddedScheduler
using k8s.Models;
using Orchestration.Scheduling;

var nodes = new List<SchedulingNode>
{
    new("edge-1", new ResourceAmounts(MilliCpu: 2000, MemoryBytes: 4L << 30), maxPods: 20, labels: new Dictionary<string, string> { ["zone"] = "edge" }),
    new("core-1", new ResourceAmounts(8000, 32L << 30), 110, new Dictionary<string, string> { ["zone"] = "core" }),
    new("gpu-1", new ResourceAmounts(8000, 64L << 30), 110, new Dictionary<string, string> { ["zone"] = "core", ["gpu"] = "true" },
        taints: [new V1Taint { Key = "gpu", Value = "true", Effect = "NoSchedule" }]),
};

V1Pod Workload(string name, string cpu, string memory, Action<V1PodSpec>? customize = null)
{
    var spec = new V1PodSpec
    {
        Containers = [new V1Container { Name = "main", Image = "app", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu), ["memory"] = new(memory) } } }],
    };
    customize?.Invoke(spec);
    return new V1Pod { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" }, Spec = spec };
}

var pods = new[]
{
    Workload("web-1", "500m", "512Mi"),
    Workload("web-2", "500m", "512Mi"),
    Workload("cache", "1", "8Gi", s => s.NodeSelector = new Dictionary<string, string> { ["zone"] = "core" }),
    Workload("trainer", "4", "32Gi", s => s.Tolerations = [new V1Toleration { Key = "gpu", OperatorProperty = "Exists", Effect = "NoSchedule" }]),
    Workload("too-big", "64", "1Ti"),
};

var scheduler = DefaultScheduler.CreateDefault();
foreach (var pod in pods)
{
    var result = scheduler.Schedule(SchedulingPod.From(pod), nodes);
    Console.WriteLine(result.Scheduled ? $"{pod.Metadata.Name,-8} -> {result.NodeName}" : $"{pod.Metadata.Name,-8} pending: {result.Message}");
}
