// API server benchmark over HTTPS with client certificates, on the SQLite store (orch up's
// default), server and clients in this one process on loopback, sharing the machine's cores.
// Usage: dotnet run -c Release --project benchmarks/Orchestration.ApiServer.Benchmarks [-- --quick]
using System.Globalization;
using Orchestration.ApiServer.Benchmarks;

// The overload benchmark's clients, each a process of its own (see LoadGenerator).
switch (args)
{
    case ["load", var url, var pki, var user, var groups, var rate, var seconds, var connections]:
        var load = await LoadGenerator.OpenLoopAsync(url, pki, user, groups.Split(',', StringSplitOptions.RemoveEmptyEntries), int.Parse(rate, CultureInfo.InvariantCulture), int.Parse(seconds, CultureInfo.InvariantCulture), int.Parse(connections, CultureInfo.InvariantCulture));
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(load));
        return;
    case ["heartbeat", var url, var pki, var seconds]:
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(await LoadGenerator.HeartbeatAsync(url, pki, int.Parse(seconds, CultureInfo.InvariantCulture))));
        return;
}

var quick = args.Contains("--quick");
var overloadOnly = args.Contains("--overload");
// --max-mutating N: the server's mutating seats (default: ApiServerOptions' 200).
var maxMutating = args.SkipWhile(a => a != "--max-mutating").Skip(1).Select(a => (int?)int.Parse(a, CultureInfo.InvariantCulture)).FirstOrDefault();
await using var cluster = await BenchCluster.StartAsync(maxMutating);
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
    var seconds = (quick ? 4 : 10).ToString(CultureInfo.InvariantCulture);

    // Same run, same offered rate, clients in processes of their own: the latency authorization adds.
    var paced = new List<(string Who, LoadResult Result)>();
    // Alternated rounds; the medians of their p99s and p50s, since one round's p99 is set by whichever store or GC pause lands in it.
    for (var round = 0; round < (quick ? 2 : 4); round++)
    {
        foreach (var (who, user, groups) in new[] { ("system:masters", "bench-admin-open", "system:masters"), ("RBAC user", "bench-open", "bench-users") })
        {
            paced.Add((who, await LoadGenerator.SpawnAsync<LoadResult>("load", cluster.Url, cluster.PkiDirectory, user, groups, "500", seconds, "1")));
        }
    }

    foreach (var (who, result) in paced)
    {
        Console.WriteLine($"open loop 500/s, 1 connection, {who,-15}: {F(result.DonePerSecond)}/s done, p50 {F(result.P50)} ms, p99 {F(result.P99)} ms, {result.Errors} errors");
    }

    static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    double Of(string who, Func<LoadResult, double> figure) => Median(paced.Where(p => p.Who == who).Select(p => figure(p.Result)));
    Console.WriteLine($"median over rounds at 500/s: system:masters p50 {F(Of("system:masters", r => r.P50))} ms, p99 {F(Of("system:masters", r => r.P99))} ms; RBAC user p50 {F(Of("RBAC user", r => r.P50))} ms, p99 {F(Of("RBAC user", r => r.P99))} ms");
    Console.WriteLine($"RBAC p99 growth at 500/s (medians): {Of("RBAC user", r => r.P99) - Of("system:masters", r => r.P99):0.00} ms, p50 growth {Of("RBAC user", r => r.P50) - Of("system:masters", r => r.P50):0.00} ms (target p99 growth <= 2 ms)");

    // Overload: 8 client-go-shaped connections (800 streams, over the 200 mutating seats and the
    // queue of 100) offering 4x the capacity, beside a node heartbeating through its own connection.
    foreach (var (offered, connections) in new[] { (500, 8), ((int)(capacity * 4), 8) })
    {
        var heartbeat = LoadGenerator.SpawnAsync<HeartbeatResult>("heartbeat", cluster.Url, cluster.PkiDirectory, (int.Parse(seconds, CultureInfo.InvariantCulture) + 2).ToString(CultureInfo.InvariantCulture));
        var run = await LoadGenerator.SpawnAsync<LoadResult>("load", cluster.Url, cluster.PkiDirectory, "bench-open", "bench-users", offered.ToString(CultureInfo.InvariantCulture), seconds, connections.ToString(CultureInfo.InvariantCulture));
        var beat = await heartbeat;
        Console.WriteLine($"open loop {offered}/s offered over {connections} connections: {F(run.DonePerSecond)}/s done, p50 {F(run.P50)} ms, p99 {F(run.P99)} ms, {run.Throttled} 429s retried, {run.Errors} errors; node lease renewals {beat.Renewals} ({beat.Failures} failed), longest gap {F(beat.MaxGapMs)} ms (period 250 ms), renewal p99 {F(beat.P99Ms)} ms");
    }
}
