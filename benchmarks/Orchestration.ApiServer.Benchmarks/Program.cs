// API server benchmark over HTTPS with client certificates, on the SQLite store (orch up's
// default), server and clients in this one process on loopback, sharing the machine's cores.
// Usage: dotnet run -c Release --project benchmarks/Orchestration.ApiServer.Benchmarks [-- --quick]
using System.Globalization;
using Orchestration.ApiServer.Benchmarks;

var quick = args.Contains("--quick");
var overloadOnly = args.Contains("--overload");
await using var cluster = await BenchCluster.StartAsync();
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; server {cluster.Url} (HTTPS, SQLite store); {(quick ? "quick" : "full")} run");
var bench = new ApiBenchmarks(cluster, quick);

if (overloadOnly)
{
    await RunOverloadAsync(cluster, quick);
    return;
}

var one = await bench.CreatePodsAsync(clients: 1, total: quick ? 500 : 2000);
var many = await bench.CreatePodsAsync(clients: 32, total: quick ? 2000 : 8000);
var paced = await bench.CreatePodsPacedAsync(ratePerSecond: 500, seconds: quick ? 4 : 10);
var list = await bench.ListPodsAsync(count: 10_000, rounds: quick ? 3 : 5);
var fanOut = await bench.WatchFanOutAsync(watchers: 1000, writes: quick ? 50 : 200, writesPerSecond: 20);

string F(double v) => v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.00", CultureInfo.InvariantCulture);
Console.WriteLine();
Console.WriteLine($"{"figure",-44} {"value",12} {"p50 ms",9} {"p99 ms",9}");
Console.WriteLine($"{"pod creates/s, 1 client",-44} {F(one.PerSecond),12} {F(one.P50),9} {F(one.P99),9}");
Console.WriteLine($"{"pod creates/s, 32 clients",-44} {F(many.PerSecond),12} {F(many.P50),9} {F(many.P99),9}");
Console.WriteLine($"{"pod creates paced at 500/s (achieved/s)",-44} {F(paced.PerSecond),12} {F(paced.P50),9} {F(paced.P99),9}");
Console.WriteLine($"{"list 10,000 pods, JSON (ms per list)",-44} {F(list.JsonMs),12} {"",9} {"",9}");
Console.WriteLine($"{"list 10,000 pods, Table (ms per list)",-44} {F(list.TableMs),12} {"",9} {"",9}");
Console.WriteLine($"{"watch fan-out, 1,000 watchers: write to all",-44} {fanOut.Samples,12} {F(fanOut.P50),9} {F(fanOut.P99),9}");
Console.WriteLine();
Console.WriteLine($"target create p99 <= 20 ms at 500 req/s: {F(paced.P99)} ms {(paced.P99 <= 20 && paced.PerSecond >= 475 ? "met" : "NOT met")}");
Console.WriteLine($"target fan-out p99 <= 100 ms: {F(fanOut.P99)} ms {(fanOut.P99 <= 100 ? "met" : "NOT met")}");

// Authorization's cost and the overload protection (--overload): RBAC-authorized creates beside
// system:masters ones, then open-loop creates at 500/s and at 4x capacity with a node heartbeating.
static async Task RunOverloadAsync(BenchCluster cluster, bool quick)
{
    string F(double v) => v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.00", CultureInfo.InvariantCulture);
    var overload = new OverloadBenchmarks(cluster);
    await overload.BindAsync();
    using var masters = cluster.Http2As("bench-admin", "system:masters");
    using var rbac = cluster.Http2As("bench-rbac", "bench-users");
    var total = quick ? 2000 : 6000;
    var asMasters = await overload.ClosedLoopAsync(masters, 32, total);
    var asRbac = await overload.ClosedLoopAsync(rbac, 32, total);
    var asMasters2 = await overload.ClosedLoopAsync(masters, 32, total);
    var asRbac2 = await overload.ClosedLoopAsync(rbac, 32, total);
    Console.WriteLine($"{"figure",-58} {"value",10} {"p50 ms",9} {"p99 ms",9}");
    foreach (var (label, rate) in new[] { ("creates/s, 32 clients, system:masters (no authorizer)", asMasters), ("creates/s, 32 clients, RBAC-authorized user", asRbac), ("  again, system:masters", asMasters2), ("  again, RBAC-authorized user", asRbac2) })
    {
        Console.WriteLine($"{label,-58} {F(rate.PerSecond),10} {F(rate.P50),9} {F(rate.P99),9}");
    }

    var cost = 1 - ((asRbac.PerSecond + asRbac2.PerSecond) / (asMasters.PerSecond + asMasters2.PerSecond));
    Console.WriteLine($"RBAC throughput cost: {cost * 100:0.0}% (target <= 10%)");
    var capacity = Math.Max(asRbac.PerSecond, asRbac2.PerSecond);
    foreach (var offered in new[] { 500, (int)(capacity * 4) })
    {
        var run = await overload.OpenLoopAsync(offered, quick ? 4 : 10);
        Console.WriteLine($"open loop {offered}/s offered: {F(run.Done.PerSecond)}/s done, p50 {F(run.Done.P50)} ms, p99 {F(run.Done.P99)} ms, {run.Throttled} 429s retried, {run.Errors} errors; node lease renewals {run.Renewals}, longest gap {F(run.HeartbeatMaxGapMs)} ms (period 250 ms), renewal p99 {F(run.HeartbeatP99Ms)} ms");
    }
}
