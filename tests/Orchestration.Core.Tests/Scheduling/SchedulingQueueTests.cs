using Microsoft.Extensions.Time.Testing;
using Orchestration.Scheduling.Plugins;
using Orchestration.Scheduling.Queue;
using static Orchestration.Core.Tests.Scheduling.SchedulingTestObjects;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>The scheduling queue: active order, per-pod backoff, unschedulable pods and cluster events, on a fake clock.</summary>
[Trait("Category", "Unit")]
public sealed class SchedulingQueueTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SchedulingQueue _queue;

    public SchedulingQueueTests() => _queue = new SchedulingQueue(new PrioritySortPlugin(), _time);

    public void Dispose() => _queue.Dispose();

    private async Task<QueuedPod> PopAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        return (await _queue.PopAsync(timeout.Token))!;
    }

    private async Task<QueuedPod> FailAsync(string name)
    {
        var popped = await PopAsync();
        popped.Pod.Name.Should().Be(name);
        _queue.AddUnschedulable(popped);
        return popped;
    }

    [Fact]
    public async Task Higher_priority_goes_first_then_the_older_pod()
    {
        var t0 = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        _queue.AddOrUpdate(Pod("low-new", priority: 1, created: t0.AddMinutes(2)));
        _queue.AddOrUpdate(Pod("high", priority: 10, created: t0.AddMinutes(3)));
        _queue.AddOrUpdate(Pod("low-old", priority: 1, created: t0.AddMinutes(1)));

        var order = new[] { (await PopAsync()).Pod.Name, (await PopAsync()).Pod.Name, (await PopAsync()).Pod.Name };

        order.Should().Equal("high", "low-old", "low-new");
    }

    [Fact]
    public void Backoff_starts_at_one_second_and_doubles_to_ten() =>
        Enumerable.Range(1, 6).Select(a => _queue.BackoffFor(a).TotalSeconds).Should().Equal(1, 2, 4, 8, 10, 10);

    [Fact]
    public async Task An_unschedulable_pod_waits_for_a_cluster_event_then_for_its_backoff()
    {
        _queue.AddOrUpdate(Pod("p"));
        await FailAsync("p");

        _time.Advance(TimeSpan.FromSeconds(30));
        var waitingWithoutEvent = (_queue.ActiveCount, _queue.UnschedulableCount);
        _queue.MoveAllToActiveOrBackoff();

        waitingWithoutEvent.Should().Be((0, 1));
        _queue.ActiveCount.Should().Be(1, "its 1 s backoff ended long ago");
    }

    [Fact]
    public async Task A_pod_moved_by_an_event_before_its_backoff_ends_waits_it_out_and_the_backoff_doubles()
    {
        _queue.AddOrUpdate(Pod("p"));
        await FailAsync("p");
        _queue.MoveAllToActiveOrBackoff();
        var afterFirstEvent = (_queue.ActiveCount, _queue.BackoffCount);
        _time.Advance(TimeSpan.FromSeconds(1));
        var afterOneSecond = _queue.ActiveCount;

        await FailAsync("p");
        _queue.MoveAllToActiveOrBackoff();
        _time.Advance(TimeSpan.FromSeconds(1));
        var oneSecondIntoSecondBackoff = _queue.ActiveCount;
        _time.Advance(TimeSpan.FromSeconds(1));

        afterFirstEvent.Should().Be((0, 1));
        afterOneSecond.Should().Be(1, "the first attempt's backoff is 1 s");
        oneSecondIntoSecondBackoff.Should().Be(0, "the second attempt's backoff is 2 s");
        _queue.ActiveCount.Should().Be(1);
    }

    [Fact]
    public async Task Without_any_event_an_unschedulable_pod_is_tried_again_after_five_minutes()
    {
        _queue.AddOrUpdate(Pod("p"));
        await FailAsync("p");

        _time.Advance(TimeSpan.FromMinutes(4.5));
        var before = _queue.UnschedulableCount;
        _time.Advance(TimeSpan.FromMinutes(0.5));

        before.Should().Be(1);
        _queue.UnschedulableCount.Should().Be(0);
        _queue.ActiveCount.Should().Be(1);
    }

    [Fact]
    public async Task An_event_while_the_pod_was_being_tried_sends_it_to_backoff_not_to_the_unschedulable_pods()
    {
        _queue.AddOrUpdate(Pod("p"));
        var popped = await PopAsync();
        _queue.MoveAllToActiveOrBackoff();

        _queue.AddUnschedulable(popped);

        (_queue.UnschedulableCount, _queue.BackoffCount).Should().Be((0, 1), "the event may already have made room");
    }

    [Fact]
    public async Task A_change_to_an_unschedulable_pod_brings_it_back()
    {
        _queue.AddOrUpdate(Pod("p"));
        await FailAsync("p");
        _time.Advance(TimeSpan.FromSeconds(2));

        _queue.AddOrUpdate(Pod("p", milliCpu: 50));

        _queue.ActiveCount.Should().Be(1);
        (await PopAsync()).Pod.Requests.MilliCpu.Should().Be(50);
    }

    [Fact]
    public async Task A_deleted_pod_leaves_the_queue_and_a_waiting_pop_gets_the_next_arrival()
    {
        _queue.AddOrUpdate(Pod("gone"));
        _queue.Delete("default/gone");
        var waiting = PopAsync();
        var waitedBeforeArrival = waiting.IsCompleted;

        _queue.AddOrUpdate(Pod("next"));

        waitedBeforeArrival.Should().BeFalse();
        (await waiting).Pod.Name.Should().Be("next");
        _queue.Contains("default/gone").Should().BeFalse();
    }

    [Fact]
    public async Task A_failure_of_a_pod_deleted_while_it_was_tried_does_not_bring_it_back()
    {
        _queue.AddOrUpdate(Pod("p"));
        var popped = await PopAsync();
        _queue.Delete("default/p");

        _queue.AddUnschedulable(popped);

        _queue.Contains("default/p").Should().BeFalse();
    }
}
