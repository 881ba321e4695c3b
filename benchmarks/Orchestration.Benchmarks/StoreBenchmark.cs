using System.Diagnostics;
using System.Text;
using Orchestration.State;

namespace Orchestration.Benchmarks;

/// <summary>The figures of one store.</summary>
internal sealed record StoreFigures(string Store, double Writes1, double Writes64, double Gets, double WatchP50Ms, double WatchP99Ms, long WatchSamples);

/// <summary>
/// Measures one store: write throughput with 1 and 64 concurrent writers (each write a create of
/// a new key, acknowledged as the store promises), get throughput over a populated keyspace, and
/// how long a change takes to reach 100 watchers. Every loop is bounded in count and time.
/// </summary>
internal sealed class StoreBenchmark(string name, IStateStore store, BenchmarkSettings settings)
{
    private readonly string _prefix = $"/bench/{Guid.NewGuid():N}/";
    private readonly byte[] _value = Encoding.UTF8.GetBytes(new string('v', 256));

    public async Task<StoreFigures> RunAsync()
    {
        var writes1 = await WritesPerSecondAsync(1, settings.SingleWriterOps);
        var writes64 = await WritesPerSecondAsync(64, settings.ConcurrentWriterOps);
        var gets = await GetsPerSecondAsync();
        var (p50, p99, samples) = await WatchLatencyAsync(100, settings.WatchWrites);
        return new StoreFigures(name, writes1, writes64, gets, p50, p99, samples);
    }

    private async Task<double> WritesPerSecondAsync(int writers, int totalOps)
    {
        var perWriter = totalOps / writers;
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * (long)settings.PhaseSeconds;
        var done = 0L;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter && Stopwatch.GetTimestamp() < deadline; i++)
            {
                var result = await store.CreateAsync($"{_prefix}w{writers}/{w}/{i}", _value);
                if (!result.Succeeded)
                {
                    throw new InvalidOperationException("a benchmark create conflicted");
                }

                Interlocked.Increment(ref done);
            }
        })));
        return done / watch.Elapsed.TotalSeconds;
    }

    private async Task<double> GetsPerSecondAsync()
    {
        const int keys = 1000;
        for (var i = 0; i < keys; i++)
        {
            await store.CreateAsync($"{_prefix}g/{i:D4}", _value);
        }

        var names = Enumerable.Range(0, keys).Select(i => $"{_prefix}g/{i:D4}").ToArray();
        var readers = Math.Max(2, Environment.ProcessorCount) * settings.GetReadersPerCore;
        var deadline = Stopwatch.GetTimestamp() + (long)(Stopwatch.Frequency * settings.GetSeconds);
        var total = 0L;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, readers).Select(r => Task.Run(async () =>
        {
            var count = 0L;
            var i = r * 7919;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                for (var batch = 0; batch < 64; batch++)
                {
                    var kv = await store.GetAsync(names[i++ % keys]);
                    if (kv is null)
                    {
                        throw new InvalidOperationException("a benchmark key is missing");
                    }
                }

                count += 64;
            }

            Interlocked.Add(ref total, count);
        })));
        return total / watch.Elapsed.TotalSeconds;
    }

    private async Task<(double P50, double P99, long Samples)> WatchLatencyAsync(int watchers, int writes)
    {
        var prefix = $"{_prefix}watch/";
        var latencies = new List<double>[watchers];
        var watches = new List<IStateWatch>();
        for (var i = 0; i < watchers; i++)
        {
            watches.Add(await store.WatchAsync(new WatchRequest { Key = prefix, Prefix = true }));
            latencies[i] = new List<double>(writes);
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(settings.PhaseSeconds * 3));
        var readers = watches.Select((w, index) => Task.Run(async () =>
        {
            try
            {
                await foreach (var evt in w.ReadEventsAsync(stop.Token))
                {
                    var sent = BitConverter.ToInt64(evt.Kv.Value.Span);
                    latencies[index].Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                    if (latencies[index].Count == writes)
                    {
                        return;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })).ToList();

        // Writes go one after another, so each measures delivery, not a queue of writes.
        for (var i = 0; i < writes; i++)
        {
            await store.CreateAsync($"{prefix}{i}", BitConverter.GetBytes(Stopwatch.GetTimestamp()));
        }

        await Task.WhenAll(readers);
        foreach (var w in watches)
        {
            await w.DisposeAsync();
        }

        var all = latencies.SelectMany(l => l).Order().ToArray();
        return all.Length == 0 ? (double.NaN, double.NaN, 0) : (Percentile(all, 0.50), Percentile(all, 0.99), all.Length);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

/// <summary>How much work each phase does, at most.</summary>
internal sealed record BenchmarkSettings(int SingleWriterOps, int ConcurrentWriterOps, double GetSeconds, int GetReadersPerCore, int WatchWrites, int PhaseSeconds)
{
    public static BenchmarkSettings Default { get; } = new(2000, 12800, 2.0, 16, 200, 15);

    public static BenchmarkSettings Quick { get; } = new(300, 1920, 0.5, 16, 50, 5);
}
