using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;

namespace Orchestration.ApiServer.Benchmarks;

/// <summary>Throughput and latency of the API server's hot paths.</summary>
internal sealed class ApiBenchmarks(BenchCluster cluster, bool quick)
{
    private int _pods;

    public async Task<Rate> CreatePodsAsync(int clients, int total)
    {
        var ns = await NamespaceAsync($"create-{clients}");
        using var http = cluster.Http();
        await CreateSomeAsync(http, ns, quick ? 50 : 200);
        return await ClosedLoopAsync(clients, total, () => CreatePodAsync(http, ns));
    }

    /// <summary><paramref name="clients"/> callers doing <paramref name="one"/> back to back until <paramref name="total"/> are done: the rate and each call's latency.</summary>
    public static async Task<Rate> ClosedLoopAsync(int clients, int total, Func<Task> one)
    {
        var latencies = new ConcurrentBag<double>();
        var next = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= total)
            {
                var started = Stopwatch.GetTimestamp();
                await one();
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })));
        return Rate.From(total / clock.Elapsed.TotalSeconds, latencies);
    }

    /// <summary>An open-loop run: requests are sent on a fixed schedule whether or not earlier ones have returned.</summary>
    public async Task<Rate> CreatePodsPacedAsync(int ratePerSecond, int seconds)
    {
        var ns = await NamespaceAsync("paced");
        using var http = cluster.Http();
        await CreateSomeAsync(http, ns, 200);
        var total = ratePerSecond * seconds;
        var latencies = new ConcurrentBag<double>();
        var pending = new List<Task>(total);
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / ratePerSecond);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait);
            }

            pending.Add(Task.Run(async () =>
            {
                var started = Stopwatch.GetTimestamp();
                await CreatePodAsync(http, ns);
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }));
        }

        await Task.WhenAll(pending);
        return Rate.From(total / clock.Elapsed.TotalSeconds, latencies);
    }

    public async Task<ListFigures> ListPodsAsync(int count, int rounds)
    {
        var ns = await NamespaceAsync("list");
        using var http = cluster.Http();
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                await CreatePodAsync(http, ns);
            }
        })));

        async Task<double> TimeAsync(string accept)
        {
            var times = new List<double>();
            for (var round = 0; round < rounds + 1; round++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/namespaces/{ns}/pods");
                request.Headers.TryAddWithoutValidation("Accept", accept);
                var started = Stopwatch.GetTimestamp();
                using var response = await http.SendAsync(request);
                var body = await response.Content.ReadAsByteArrayAsync();
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK || body.Length < count * 100)
                {
                    throw new InvalidOperationException($"list failed: {response.StatusCode}, {body.Length} bytes");
                }

                if (round > 0)
                {
                    times.Add(elapsed);
                }
            }

            times.Sort();
            return times[times.Count / 2];
        }

        return new ListFigures(await TimeAsync("application/json"), await TimeAsync("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"));
    }

    /// <summary>Opens the watchers, then writes at a steady rate; each write's delay is until the last watcher has it.</summary>
    public async Task<Rate> WatchFanOutAsync(int watchers, int writes, int writesPerSecond)
    {
        var ns = await NamespaceAsync("fanout");
        using var http = cluster.Http();
        var sent = new ConcurrentDictionary<string, long>();
        var remaining = new ConcurrentDictionary<string, int>();
        var delays = new ConcurrentBag<double>();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ready = 0;
        var readers = Enumerable.Range(0, watchers).Select(_ => Task.Run(async () =>
        {
            using var response = await http.GetAsync($"/api/v1/namespaces/{ns}/configmaps?watch=1&timeoutSeconds=600", HttpCompletionOption.ResponseHeadersRead, stop.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token), Encoding.UTF8);
            Interlocked.Increment(ref ready);
            var seen = 0;
            while (seen < writes && await reader.ReadLineAsync(stop.Token) is { } line)
            {
                var received = Stopwatch.GetTimestamp();
                var name = NameIn(line);
                if (name is null || !sent.TryGetValue(name, out var at))
                {
                    continue;
                }

                seen++;
                if (remaining.AddOrUpdate(name, watchers - 1, (_, left) => left - 1) == 0)
                {
                    delays.Add(Stopwatch.GetElapsedTime(at, received).TotalMilliseconds);
                }
            }
        })).ToList();

        while (Volatile.Read(ref ready) < watchers)
        {
            await Task.Delay(50);
        }

        await Task.Delay(500);
        for (var i = 0; i < writes; i++)
        {
            var name = $"fan-{i:D5}";
            sent[name] = Stopwatch.GetTimestamp();
            using var content = new StringContent("{\"metadata\":{\"name\":\"" + name + "\"},\"data\":{\"i\":\"" + i + "\"}}", Encoding.UTF8, "application/json");
            (await http.PostAsync($"/api/v1/namespaces/{ns}/configmaps", content)).EnsureSuccessStatusCode();
            await Task.Delay(1000 / writesPerSecond);
        }

        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromMinutes(2));
        return Rate.From(writes, delays);
    }

    private static string? NameIn(string line)
    {
        const string marker = "\"name\":\"fan-";
        var start = line.IndexOf(marker, StringComparison.Ordinal);
        return start < 0 ? null : line.Substring(start + 8, 9);
    }

    private async Task CreateSomeAsync(HttpClient http, string ns, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await CreatePodAsync(http, ns);
        }
    }

    private async Task<string> NamespaceAsync(string name)
    {
        using var http = cluster.Http();
        using var content = new StringContent("{\"metadata\":{\"name\":\"" + name + "\"}}", Encoding.UTF8, "application/json");
        (await http.PostAsync("/api/v1/namespaces", content)).EnsureSuccessStatusCode();
        return name;
    }

    private async Task CreatePodAsync(HttpClient http, string ns)
    {
        var name = $"pod-{Interlocked.Increment(ref _pods):D7}";
        using var content = new StringContent(PodJson.Replace("NAME", name, StringComparison.Ordinal), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync($"/api/v1/namespaces/{ns}/pods", content);
        if (response.StatusCode != HttpStatusCode.Created)
        {
            throw new InvalidOperationException($"create failed: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private const string PodJson = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","labels":{"app":"bench","tier":"web"}},
         "spec":{"containers":[{"name":"web","image":"busybox","command":["httpd","-f","-p","8080"],
           "ports":[{"containerPort":8080}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"}},
           "env":[{"name":"MODE","value":"bench"}]}]}}
        """;
}

internal sealed record Rate(double PerSecond, double P50, double P99, int Samples)
{
    public static Rate From(double perSecond, IEnumerable<double> latencies)
    {
        var sorted = latencies.OrderBy(l => l).ToArray();
        double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new Rate(perSecond, At(0.50), At(0.99), sorted.Length);
    }
}

internal sealed record ListFigures(double JsonMs, double TableMs);
