using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Networking;
using Orchestration.Runtime.Linux;
using Orchestration.Runtime.Linux.Networking;

// Modes: (no arguments, or sizes) the sync benchmark below; "connections [SERVICES [SECONDS [PARALLEL [ROUNDS]]]]"
// the connection rate (ConnectionRate.cs); "serve" and "connect" are that benchmark's own children.
switch (args.FirstOrDefault())
{
    case "connections":
        await ConnectionRate.RunAsync(
            args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000,
            TimeSpan.FromSeconds(args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 5),
            args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 8,
            args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 3);
        return 0;
    case "serve":
        return await ConnectionRate.ServeAsync(int.Parse(args[1], CultureInfo.InvariantCulture));
    case "connect":
        return await ConnectionRate.ConnectLoopAsync(IPEndPoint.Parse(args[1]), double.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
}

// Proxy sync: for 1,000 and 10,000 services of 10 endpoints each, the nftables proxy's first (full)
// sync beside the same ruleset applied with a raw `nft -f` (dumped from the kernel after the proxy's
// sync) in the same run, and the time to apply one endpoint change, to delete one Service and to
// create it again. Everything happens in a network namespace this harness creates and deletes; no
// packet is sent.
var sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [1_000, 10_000];
const int Endpoints = 10;
const int Rounds = 3;
var culture = CultureInfo.InvariantCulture;
Console.WriteLine("services\tendpoints\ttables\tproxy full sync ms\traw nft -f ms\tratio\tone change ms (median of 5)\tof it in nftables ms\tremove one ms\tadd one ms\tfull script bytes\tchange script bytes");
foreach (var services in sizes)
{
    var name = $"orch-bench-{Guid.NewGuid().ToString("N")[..6]}";
    await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", name], CancellationToken.None);
    try
    {
        var path = $"/var/run/netns/{name}";
        var ports = Enumerable.Range(0, services).Select(i => Port(i, 0)).ToList();
        var full = new List<double>();
        var raw = new List<double>();
        var changes = new List<double>();
        var changeApplies = new List<double>();
        var removals = new List<double>();
        var additions = new List<double>();
        var bytes = 0;
        var changeBytes = 0;
        var tableCount = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var proxy = new NftablesProxy(Options.Create(new NftablesProxyOptions { NetworkNamespacePath = path, ClusterCidr = "10.244.0.0/16" }), new ConsoleErrorLogger());
            await proxy.CleanUpAsync(CancellationToken.None);
            var started = Stopwatch.GetTimestamp();
            await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
            full.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            bytes = proxy.LastSync.ScriptLength;

            // The same ruleset, as the kernel holds it (every table of the proxy, listed one by one:
            // nft 1.0's "list ruleset" fetches every rule once per table), applied by nft alone into an
            // empty namespace state.
            var tables = await ProxyTablesAsync(path);
            tableCount = tables.Count;
            var dump = new StringBuilder();
            foreach (var table in tables)
            {
                var (_, listing) = await ProcessRunner.RunAsync("nsenter", [$"--net={path}", "nft", "list", "table", "ip", table], CancellationToken.None);
                dump.Append(listing);
            }

            await proxy.CleanUpAsync(CancellationToken.None);
            started = Stopwatch.GetTimestamp();
            var (exit, output) = await ProcessRunner.RunAsync("nsenter", [$"--net={path}", "nft", "-f", "-"], dump.ToString(), CancellationToken.None);
            raw.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (exit != 0)
            {
                throw new InvalidOperationException($"raw nft -f failed: {output}");
            }

            await proxy.CleanUpAsync(CancellationToken.None);
            await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
            for (var change = 1; change <= 5; change++)
            {
                var changed = ports.ToList();
                var index = (((round * 5) + change) * 7919) % services;
                changed[index] = Port(index, (round * 5) + change);
                proxy.ForgetLastSync();
                started = Stopwatch.GetTimestamp();
                await proxy.SyncAsync(new ServiceTable(changed), CancellationToken.None);
                changes.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (proxy.LastSync.Full || proxy.LastSync.ScriptLength == 0)
                {
                    throw new InvalidOperationException("the change was not applied as a change of its own");
                }

                changeBytes = proxy.LastSync.ScriptLength;
                changeApplies.Add(proxy.LastSync.Elapsed.TotalMilliseconds);
                ports = changed;
            }

            // One Service deleted, then created again: its map element goes, then comes back.
            var gone = (round * 7919 + 17) % services;
            var without = ports.Where((_, i) => i != gone).ToList();
            started = Stopwatch.GetTimestamp();
            await proxy.SyncAsync(new ServiceTable(without), CancellationToken.None);
            removals.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            started = Stopwatch.GetTimestamp();
            await proxy.SyncAsync(new ServiceTable(ports), CancellationToken.None);
            additions.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (proxy.LastSync.Full)
            {
                throw new InvalidOperationException("a removed or added Service was not applied as a change of its own");
            }

            await proxy.CleanUpAsync(CancellationToken.None);
        }

        var fullMedian = Median(full);
        var rawMedian = Median(raw);
        Console.WriteLine(string.Join('\t', services.ToString(culture), Endpoints.ToString(culture), tableCount.ToString(culture), fullMedian.ToString("F0", culture), rawMedian.ToString("F0", culture), (fullMedian / rawMedian).ToString("F2", culture), Median(changes).ToString("F1", culture), Median(changeApplies).ToString("F1", culture), Median(removals).ToString("F1", culture), Median(additions).ToString("F1", culture), bytes.ToString(culture), changeBytes.ToString(culture)));
    }
    finally
    {
        await ProcessRunner.RunAsync("ip", ["netns", "delete", name], CancellationToken.None);
    }
}

return 0;

// The proxy's tables: "list flowtables" names every table without making nft fetch their rules.
static async Task<List<string>> ProxyTablesAsync(string path)
{
    var (_, listing) = await ProcessRunner.RunAsync("nsenter", [$"--net={path}", "nft", "list", "flowtables", "ip"], CancellationToken.None);
    return listing.Split('\n')
        .Where(l => l.StartsWith("table ip orch-proxy", StringComparison.Ordinal))
        .Select(l => l["table ip ".Length..].TrimEnd(' ', '{'))
        .ToList();
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted[sorted.Count / 2];
}

// Service i has cluster IP 10.96.x.y and ten endpoints in 10.244.0.0/16; "generation" moves one endpoint.
static ServicePort Port(int i, int generation)
{
    var endpoints = Enumerable.Range(0, Endpoints).Select(e =>
    {
        var n = (i * Endpoints) + e + (e == 0 ? generation * 1_000_003 : 0);
        return new ServiceEndpoint(IPAddress.Parse($"10.244.{(n / 250) % 256}.{(n % 250) + 2}"), 8080, "node-a");
    }).ToList();
    return new ServicePort(new ServicePortName("bench", $"svc-{i}", "http", ServiceProtocol.Tcp), 80)
    {
        ClusterIPs = [IPAddress.Parse($"10.{96 + (i / 62500)}.{(i / 250) % 250}.{(i % 250) + 1}")],
        ClusterEndpoints = endpoints,
        ExternalEndpoints = endpoints,
    };
}

/// <summary>Warnings of the proxy (a refused change) on standard error, so a run shows why a figure is off.</summary>
internal sealed class ConsoleErrorLogger : ILogger<NftablesProxy>
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Console.Error.WriteLine($"{logLevel}: {formatter(state, exception)}");
        }
    }
}
