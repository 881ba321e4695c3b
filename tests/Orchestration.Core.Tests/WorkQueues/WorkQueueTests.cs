using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Orchestration.WorkQueues;

namespace Orchestration.Core.Tests.WorkQueues;

/// <summary>The work queue's guarantees, on a fake clock.</summary>
[Trait("Category", "Unit")]
public sealed class WorkQueueTests
{
    private readonly FakeTimeProvider _clock = new();

    private async Task<string> NextAsync(WorkQueue<string> queue)
    {
        var (ok, item) = await queue.GetAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        ok.Should().BeTrue();
        return item;
    }

    [Fact]
    public async Task An_item_waiting_twice_is_queued_once()
    {
        using var queue = new WorkQueue<string>(timeProvider: _clock);

        queue.Add("a");
        queue.Add("b");
        queue.Add("a");

        queue.Count.Should().Be(2);
        (await NextAsync(queue)).Should().Be("a");
        (await NextAsync(queue)).Should().Be("b");
    }

    [Fact]
    public async Task An_item_added_while_processed_waits_for_its_worker_to_finish()
    {
        using var queue = new WorkQueue<string>(timeProvider: _clock);
        queue.Add("a");
        var item = await NextAsync(queue);

        queue.Add("a");
        var countWhileProcessing = queue.Count;
        queue.Done(item);

        countWhileProcessing.Should().Be(0, "a second worker must not get an item that is being processed");
        queue.Count.Should().Be(1);
    }

    [Fact]
    public async Task Failures_back_off_exponentially_per_item_and_forget_resets_it()
    {
        using var queue = new WorkQueue<string>(new WorkQueueOptions { BaseDelay = TimeSpan.FromMilliseconds(100) }, _clock);
        var delays = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var start = _clock.GetUtcNow();
            queue.AddRateLimited("a");
            while (queue.Count == 0)
            {
                _clock.Advance(TimeSpan.FromMilliseconds(10));
            }

            delays.Add(_clock.GetUtcNow() - start);
            queue.Done(await NextAsync(queue));
        }

        queue.Requeues("a").Should().Be(3);
        queue.Forget("a");
        queue.AddRateLimited("a");
        _clock.Advance(TimeSpan.FromMilliseconds(100));

        delays.Select(d => d.TotalMilliseconds).Should().Equal(100, 200, 400);
        queue.Count.Should().Be(1, "after Forget the backoff starts from the base delay again");
    }

    [Fact]
    public void The_overall_rate_limits_retries_of_different_items()
    {
        using var queue = new WorkQueue<string>(new WorkQueueOptions { BaseDelay = TimeSpan.FromMilliseconds(1), RetriesPerSecond = 1, RetryBurst = 2 }, _clock);

        foreach (var item in new[] { "a", "b", "c" })
        {
            queue.AddRateLimited(item);
        }

        _clock.Advance(TimeSpan.FromMilliseconds(5));
        var afterBurst = queue.Count;
        _clock.Advance(TimeSpan.FromSeconds(1));

        afterBurst.Should().Be(2, "the burst lets two retries through at once");
        queue.Count.Should().Be(3, "the third waits for the bucket to refill");
    }

    [Fact]
    public void A_delayed_add_arrives_at_its_time_and_a_later_request_keeps_the_earlier_one()
    {
        using var queue = new WorkQueue<string>(timeProvider: _clock);

        queue.AddAfter("a", TimeSpan.FromSeconds(10));
        queue.AddAfter("a", TimeSpan.FromSeconds(30));
        _clock.Advance(TimeSpan.FromSeconds(9));
        var early = queue.Count;
        _clock.Advance(TimeSpan.FromSeconds(1));

        early.Should().Be(0);
        queue.Count.Should().Be(1);
        _clock.Advance(TimeSpan.FromSeconds(30));
        queue.Count.Should().Be(1, "the later request was folded into the earlier one");
    }

    [Fact]
    public async Task Shutdown_releases_waiting_workers_and_ignores_new_items()
    {
        var queue = new WorkQueue<string>(timeProvider: _clock);
        var waiting = queue.GetAsync(CancellationToken.None);
        queue.AddAfter("late", TimeSpan.FromSeconds(1));

        queue.ShutDown();
        queue.Add("x");
        _clock.Advance(TimeSpan.FromSeconds(2));

        (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).Ok.Should().BeFalse();
        (await queue.GetAsync(CancellationToken.None)).Ok.Should().BeFalse();
        queue.Count.Should().Be(0);
    }

    [Fact]
    public async Task Concurrent_workers_never_hold_the_same_item_at_once()
    {
        using var queue = new WorkQueue<string>();
        var held = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        var processed = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var (ok, item) = await queue.GetAsync(stop.Token);
                if (!ok)
                {
                    return;
                }

                if (!held.TryAdd(item, 0))
                {
                    Interlocked.Increment(ref overlaps);
                }

                await Task.Yield();
                held.TryRemove(item, out _);
                Interlocked.Increment(ref processed);
                queue.Done(item);
            }
        })).ToList();

        for (var i = 0; i < 5_000; i++)
        {
            queue.Add($"k{i % 7}");
        }

        while (queue.Count > 0 && !stop.IsCancellationRequested)
        {
            await Task.Delay(10);
        }

        await Task.Delay(100);
        queue.ShutDown();
        await Task.WhenAll(workers);

        overlaps.Should().Be(0);
        processed.Should().BeGreaterThanOrEqualTo(7);
    }
}
