using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Orchestration.ApiServer.Security;

namespace Orchestration.ApiServer.Benchmarks;

/// <summary>
/// The clients of the overload benchmark, each run as a process of its own (this program with
/// <c>load</c> or <c>heartbeat</c>), so that their work does not share the server's thread pool:
/// open-loop pod creates over a bounded number of HTTP/2 connections (each like one client-go
/// client), every 429 sent again after its Retry-After as client-go does; and a node renewing a
/// Lease every 250 ms. Each prints its figures as one JSON line.
/// </summary>
internal static class LoadGenerator
{
    private const string PodJson = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","labels":{"app":"bench"}},
         "spec":{"containers":[{"name":"web","image":"busybox","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}
        """;

    private static int _pods;

    /// <summary>Open-loop creates at <paramref name="perSecond"/> for <paramref name="seconds"/>, spread over <paramref name="connections"/> HTTP/2 connections.</summary>
    public static async Task<LoadResult> OpenLoopAsync(string url, string pki, string user, string[] groups, int perSecond, int seconds, int connections)
    {
        var certificates = ClusterCertificates.LoadOrCreate(pki, TimeProvider.System);
        var clients = Enumerable.Range(0, connections).Select(_ => BenchCluster.Http2As(url, certificates, user, groups)).ToList();
        try
        {
            // Warm-up, not measured: each connection's TLS handshake and the process's first JIT.
            await Task.WhenAll(clients.Select(async http =>
            {
                for (var i = 0; i < 20; i++)
                {
                    await CreateAsync(http);
                }
            }));

            var (throttled, errors) = (0, 0);
            var latencies = new ConcurrentBag<double>();
            var total = perSecond * seconds;
            var pending = new List<Task>(total);
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < total; i++)
            {
                var wait = TimeSpan.FromSeconds((double)i / perSecond) - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait);
                }

                var http = clients[i % clients.Count];
                pending.Add(Task.Run(async () =>
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        Interlocked.Add(ref throttled, await CreateAsync(http));
                        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or InvalidOperationException)
                    {
                        Interlocked.Increment(ref errors);
                        if (errors <= 3)
                        {
                            await Console.Error.WriteLineAsync($"load: {ex.GetType().Name}: {ex.Message}");
                        }
                    }
                }));
            }

            await Task.WhenAll(pending);
            var rate = Rate.From(latencies.Count / clock.Elapsed.TotalSeconds, latencies);
            return new LoadResult(perSecond, rate.PerSecond, rate.P50, rate.P99, throttled, errors);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    /// <summary>A node's heartbeat: a Lease written every 250 ms for <paramref name="seconds"/>, through the node's own connection.</summary>
    public static async Task<HeartbeatResult> HeartbeatAsync(string url, string pki, int seconds)
    {
        var certificates = ClusterCertificates.LoadOrCreate(pki, TimeProvider.System);
        var latencies = new List<double>();
        var clock = Stopwatch.StartNew();
        var last = Stopwatch.GetTimestamp();
        var (maxGap, renewals, failures) = (0.0, 0, 0);
        // The node's own Lease (NodeRestriction lets a node write no other), renewed as the node agent renews it.
        var name = $"bench-node-{Environment.ProcessId}";
        using var node = BenchCluster.Http2As(url, certificates, $"system:node:{name}", "system:nodes");
        using (var created = await node.PostAsync("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", new StringContent($$$"""{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"{{{name}}}"},"spec":{"holderIdentity":"{{{name}}}","leaseDurationSeconds":40}}""", Encoding.UTF8, "application/json")))
        {
            if (created.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"the node's Lease was not created: {created.StatusCode} {await created.Content.ReadAsStringAsync()}");
            }
        }

        while (clock.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            var started = Stopwatch.GetTimestamp();
            var renewal = $$$"""{"spec":{"renewTime":"{{{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.ffffffZ}}}"}}""";
            using var content = new StringContent(renewal, Encoding.UTF8, "application/merge-patch+json");
            try
            {
                using var response = await node.PatchAsync($"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}", content);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var now = Stopwatch.GetTimestamp();
                    latencies.Add(Stopwatch.GetElapsedTime(started, now).TotalMilliseconds);
                    maxGap = Math.Max(maxGap, Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                    last = now;
                    renewals++;
                }
                else
                {
                    failures++;
                    if (failures <= 3)
                    {
                        await Console.Error.WriteLineAsync($"heartbeat: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                failures++;
            }

            await Task.Delay(250);
        }

        return new HeartbeatResult(renewals, failures, maxGap, Rate.From(0, latencies).P99);
    }

    /// <summary>Runs this program as a client process with <paramref name="args"/> and reads the JSON line it prints.</summary>
    public static async Task<T> SpawnAsync<T>(params string[] args)
    {
        // ORCH_BENCH_LOAD_NICE=N runs the load process under nice N: it stands for clients on other
        // machines, whose CPU would not compete with the server's.
        var nice = args[0] == "load" ? Environment.GetEnvironmentVariable("ORCH_BENCH_LOAD_NICE") : null;
        var start = new ProcessStartInfo(nice is null ? "dotnet" : "nice") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (nice is not null)
        {
            start.ArgumentList.Add("-n");
            start.ArgumentList.Add(nice);
            start.ArgumentList.Add("dotnet");
        }

        start.ArgumentList.Add(typeof(LoadGenerator).Assembly.Location);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("the client process did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(limit.Token);
        var line = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"client process {string.Join(' ', args.Take(1))} failed ({process.ExitCode}): {await stderr}");
        }

        var errors = await stderr;
        if (errors.Length > 0)
        {
            Console.Error.Write(errors);
        }

        return JsonSerializer.Deserialize<T>(line)!;
    }

    // One pod create; a 429 is sent again after its Retry-After, up to 10 times, as client-go does. Returns the 429s met.
    public static async Task<int> CreateAsync(HttpClient http)
    {
        var name = $"o-{Environment.ProcessId}-{Interlocked.Increment(ref _pods):D7}";
        for (var attempt = 0; ; attempt++)
        {
            using var content = new StringContent(PodJson.Replace("NAME", name, StringComparison.Ordinal), Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("/api/v1/namespaces/overload/pods", content);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                return attempt;
            }

            if (response.StatusCode == HttpStatusCode.TooManyRequests && attempt < 10)
            {
                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                continue;
            }

            throw new InvalidOperationException($"create failed: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }
}

/// <summary>What a load process measured: offered and achieved creates/s, latency (429 waits included), 429s met, errors.</summary>
internal sealed record LoadResult(int Offered, double DonePerSecond, double P50, double P99, int Throttled, int Errors);

/// <summary>What a heartbeat process measured: renewals, failed renewals, the longest gap between two and the renewal p99.</summary>
internal sealed record HeartbeatResult(int Renewals, int Failures, double MaxGapMs, double P99Ms);
