// Store benchmark: memory, SQLite (durable) and a real single-member etcd started here on
// loopback, measured in the same run. Prints each figure and each store's ratio to etcd.
// Usage: dotnet run -c Release --project benchmarks/Orchestration.Benchmarks [-- --quick]
using System.Globalization;
using Orchestration.Benchmarks;
using Orchestration.State;
using Orchestration.State.Etcd;
using Orchestration.State.Sqlite;
using Orchestration.Testing.Daemons;

var settings = args.Contains("--quick") ? BenchmarkSettings.Quick : BenchmarkSettings.Default;
var results = new List<StoreFigures>();
var scratch = Directory.CreateTempSubdirectory("orch-bench-").FullName;
try
{
    Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}; payload 256 B; {(settings == BenchmarkSettings.Quick ? "quick" : "full")} run");

    await using (var etcd = await EtcdServer.StartAsync())
    await using (var store = new EtcdStateStore(new EtcdStateStoreOptions { Endpoints = [etcd.ClientUrl] }))
    {
        results.Add(await new StoreBenchmark("etcd 3.4 (1 member)", store, settings).RunAsync());
    }

    await using (var store = new SqliteStateStore(new SqliteStateStoreOptions { DataDirectory = Path.Combine(scratch, "sqlite"), CompactionInterval = null }))
    {
        results.Add(await new StoreBenchmark("SQLite (durable)", store, settings).RunAsync());
    }

    await using (var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }))
    {
        results.Add(await new StoreBenchmark("memory", store, settings).RunAsync());
    }
}
finally
{
    Directory.Delete(scratch, recursive: true);
}

var etcdFigures = results[0];
string F(double v) => double.IsNaN(v) ? "-" : v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.00", CultureInfo.InvariantCulture);
string R(double v, double reference) => reference > 0 && !double.IsNaN(v) ? (v / reference).ToString("0.00", CultureInfo.InvariantCulture) + "x" : "-";
Console.WriteLine();
Console.WriteLine($"{"store",-22} {"writes/s 1w",14} {"writes/s 64w",14} {"gets/s",14} {"watch p50 ms",13} {"watch p99 ms",13} {"samples",9}");
foreach (var r in results)
{
    Console.WriteLine($"{r.Store,-22} {F(r.Writes1),14} {F(r.Writes64),14} {F(r.Gets),14} {F(r.WatchP50Ms),13} {F(r.WatchP99Ms),13} {r.WatchSamples,9}");
}

Console.WriteLine();
Console.WriteLine("ratio to etcd (throughput: higher is better; latency: lower is better)");
foreach (var r in results.Skip(1))
{
    Console.WriteLine($"{r.Store,-22} {R(r.Writes1, etcdFigures.Writes1),14} {R(r.Writes64, etcdFigures.Writes64),14} {R(r.Gets, etcdFigures.Gets),14} {R(r.WatchP50Ms, etcdFigures.WatchP50Ms),13} {R(r.WatchP99Ms, etcdFigures.WatchP99Ms),13}");
}

Console.WriteLine();
var sqlite = results.Single(r => r.Store.StartsWith("SQLite", StringComparison.Ordinal));
var memory = results.Single(r => r.Store == "memory");
Console.WriteLine($"target SQLite writes 64w >= 1.5x etcd: {R(sqlite.Writes64, etcdFigures.Writes64)} {(sqlite.Writes64 >= 1.5 * etcdFigures.Writes64 ? "met" : "NOT met")}");
Console.WriteLine($"target SQLite writes 1w  >= 1.0x etcd: {R(sqlite.Writes1, etcdFigures.Writes1)} {(sqlite.Writes1 >= etcdFigures.Writes1 ? "met" : "NOT met")}");
Console.WriteLine($"target memory gets >= 1,000,000/s: {F(memory.Gets)} {(memory.Gets >= 1_000_000 ? "met" : "NOT met")}");
