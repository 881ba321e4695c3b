// Scheduler benchmark: 5,000 nodes, then 10,000 and 50,000 pods through the default scheduler with
// all its default plugins in one process, as kube-scheduler's SchedulingBasic workload does. One pod
// in ten carries a topology spread constraint over zones (every twentieth) or a required
// anti-affinity on hostname (the others of the ten percent), so PodTopologySpread and
// InterPodAffinity do real work. Prints pods/s and p50/p99 per pod.
// Usage: dotnet run -c Release --project benchmarks/Orchestration.Scheduler.Benchmarks
using System.Diagnostics;
using System.Globalization;
using k8s.Models;
using Orchestration.Scheduling;

Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; all default plugins ({string.Join(", ", DefaultScheduler.DefaultPlugins().Select(p => p.Name))})");
foreach (var (nodes, pods, floor) in new[] { (5000, 10_000, 680), (5000, 50_000, 810) })
{
    var nodeList = new NodeSnapshot(Enumerable.Range(0, nodes)
        .Select(i => new SchedulingNode($"node-{i:D5}", new ResourceAmounts(4000, 16L << 30), 110, new Dictionary<string, string> { ["zone"] = $"zone-{i % 3}", ["kubernetes.io/hostname"] = $"node-{i:D5}" })));
    var podList = Enumerable.Range(0, pods).Select(i => SchedulingPod.From(Pod(i))).ToList();
    var scheduler = DefaultScheduler.CreateDefault();
    foreach (var warm in podList.Take(200))
    {
        scheduler.Schedule(warm with { Name = "warm-" + warm.Name }, nodeList);
    }

    var latencies = new double[pods];
    var failed = 0;
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < pods; i++)
    {
        var started = Stopwatch.GetTimestamp();
        if (!scheduler.Schedule(podList[i], nodeList).Scheduled)
        {
            failed++;
        }

        latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }

    var seconds = clock.Elapsed.TotalSeconds;
    Array.Sort(latencies);
    var rate = pods / seconds;
    string F(double v) => v.ToString(v >= 100 ? "N0" : "0.000", CultureInfo.InvariantCulture);
    Console.WriteLine($"{nodes} nodes, {pods} pods: {F(rate)} pods/s, p50 {F(latencies[pods / 2])} ms, p99 {F(latencies[(int)(pods * 0.99)])} ms, unschedulable {failed}; kube-scheduler CI floor {floor} pods/s (ratio {rate / floor:0.0}x); target >= 3,000: {(rate >= 3000 ? "met" : "NOT met")}");
}

// Pods of 100 groups (a Deployment each, say); one in ten spreads or keeps apart from its group.
static V1Pod Pod(int i)
{
    var group = $"group-{i % 100}";
    var spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "i", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("100m"), ["memory"] = new("128Mi") } } }] };
    var selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = group } };
    if (i % 20 == 0)
    {
        spec.TopologySpreadConstraints = [new V1TopologySpreadConstraint { MaxSkew = 1, TopologyKey = "zone", WhenUnsatisfiable = "DoNotSchedule", LabelSelector = selector }];
    }
    else if (i % 20 == 10)
    {
        spec.Affinity = new V1Affinity { PodAntiAffinity = new V1PodAntiAffinity { RequiredDuringSchedulingIgnoredDuringExecution = [new V1PodAffinityTerm { TopologyKey = "kubernetes.io/hostname", LabelSelector = selector }] } };
    }

    return new V1Pod { Metadata = new V1ObjectMeta { Name = $"pod-{i:D6}", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["app"] = group } }, Spec = spec };
}
