// API server benchmark over HTTPS with client certificates, on the SQLite store (orch up's
// default), server and clients in this one process on loopback, sharing the machine's cores.
// Usage: dotnet run -c Release --project benchmarks/Orchestration.ApiServer.Benchmarks [-- --quick]
using System.Globalization;
using Orchestration.ApiServer.Benchmarks;

var quick = args.Contains("--quick");
await using var cluster = await BenchCluster.StartAsync();
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; server {cluster.Url} (HTTPS, SQLite store); {(quick ? "quick" : "full")} run");
var bench = new ApiBenchmarks(cluster, quick);

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
