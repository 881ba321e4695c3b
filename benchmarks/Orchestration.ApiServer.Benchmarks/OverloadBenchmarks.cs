using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;

namespace Orchestration.ApiServer.Benchmarks;

/// <summary>
/// What authorization and overload protection cost and buy: pod creates by a system:masters user
/// (no authorizer asked, no seat limits) beside a user whose rights come from an RBAC binding, same
/// run; then open-loop creates by such a user over one HTTP/2 connection (as client-go sends them),
/// at 500/s and at four times the measured capacity, each 429 sent again after its Retry-After
/// (as client-go does), while a node renews its Lease every 250 ms through the system level.
/// </summary>
internal sealed class OverloadBenchmarks(BenchCluster cluster)
{
    private int _pods;

    /// <summary>Grants every authenticated user cluster-admin through RBAC, so the bench users' requests are authorized by evaluating a binding.</summary>
    public async Task BindAsync()
    {
        using var admin = cluster.Http();
        foreach (var (path, body) in new[]
        {
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"bench-admin"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"Group","name":"bench-users"},{"kind":"Group","name":"system:nodes"}]}"""),
            ("/api/v1/namespaces", """{"metadata":{"name":"overload"}}"""),
            ("/api/v1/namespaces", """{"metadata":{"name":"kube-node-lease"}}"""),
        })
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await admin.PostAsync(path, content);
            if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
            {
                throw new InvalidOperationException($"{path}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        // The binding reaches the authorizer through its informers.
        using var user = cluster.Http2As("bench-rbac", "bench-users");
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var probe = await user.GetAsync("/api/v1/namespaces/overload/pods?limit=1");
            if (probe.IsSuccessStatusCode)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException("the RBAC binding never took effect");
    }

    /// <summary>Closed-loop creates by <paramref name="clients"/> concurrent callers over <paramref name="http"/>.</summary>
    public Task<Rate> ClosedLoopAsync(HttpClient http, int clients, int total) =>
        ApiBenchmarks.ClosedLoopAsync(clients, total, () => CreateAsync(http, null));

    /// <summary>Open-loop creates at <paramref name="perSecond"/> for <paramref name="seconds"/>, 429s retried after Retry-After, with a node's Lease renewed every 250 ms meanwhile.</summary>
    public async Task<OpenLoop> OpenLoopAsync(int perSecond, int seconds)
    {
        using var http = cluster.Http2As("bench-open", "bench-users");
        using var node = cluster.Http2As("system:node:bench-node", "system:nodes");
        var counters = new Counters();
        var latencies = new ConcurrentBag<double>();
        using var stop = new CancellationTokenSource();
        var heartbeats = HeartbeatAsync(node, stop.Token);
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

            pending.Add(Task.Run(async () =>
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await CreateAsync(http, counters);
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or InvalidOperationException)
                {
                    Interlocked.Increment(ref counters.Errors);
                }
            }));
        }

        await Task.WhenAll(pending);
        var elapsed = clock.Elapsed;
        await stop.CancelAsync();
        var (renewals, maxGap, p99) = await heartbeats;
        return new OpenLoop(perSecond, Rate.From(latencies.Count / elapsed.TotalSeconds, latencies), counters.Throttled, counters.Errors, renewals, maxGap, p99);
    }

    private async Task<(int Renewals, double MaxGapMs, double P99Ms)> HeartbeatAsync(HttpClient node, CancellationToken stop)
    {
        var latencies = new List<double>();
        var last = Stopwatch.GetTimestamp();
        var maxGap = 0.0;
        var renewals = 0;
        while (!stop.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            var lease = $$$"""{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"bench-node-{{{renewals}}}"},"spec":{"holderIdentity":"bench-node"}}""";
            using var content = new StringContent(lease, Encoding.UTF8, "application/json");
            using var response = await node.PostAsync("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", content, CancellationToken.None);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                var now = Stopwatch.GetTimestamp();
                latencies.Add(Stopwatch.GetElapsedTime(started, now).TotalMilliseconds);
                maxGap = Math.Max(maxGap, Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                last = now;
                renewals++;
            }

            try
            {
                await Task.Delay(250, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }

        return (renewals, maxGap, Rate.From(0, latencies).P99);
    }

    // One pod create; a 429 is sent again after its Retry-After, up to 10 times, as client-go does.
    private async Task CreateAsync(HttpClient http, Counters? counters)
    {
        var name = $"o-{Interlocked.Increment(ref _pods):D7}";
        for (var attempt = 0; ; attempt++)
        {
            using var content = new StringContent(PodJson.Replace("NAME", name, StringComparison.Ordinal), Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("/api/v1/namespaces/overload/pods", content);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                return;
            }

            if (response.StatusCode == HttpStatusCode.TooManyRequests && attempt < 10)
            {
                if (counters is not null)
                {
                    Interlocked.Increment(ref counters.Throttled);
                }

                await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
                continue;
            }

            throw new InvalidOperationException($"create failed: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private const string PodJson = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","labels":{"app":"bench"}},
         "spec":{"containers":[{"name":"web","image":"busybox","resources":{"requests":{"cpu":"100m","memory":"64Mi"}}}]}}
        """;

    private sealed class Counters
    {
        public int Throttled;
        public int Errors;
    }
}

internal sealed record OpenLoop(int Offered, Rate Done, int Throttled, int Errors, int Renewals, double HeartbeatMaxGapMs, double HeartbeatP99Ms);
