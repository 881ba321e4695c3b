using System.Collections.Concurrent;

namespace Orchestration.Dns.Transport;

/// <summary>The tasks the server started and does not await where they start (TCP connections, forwarded answers), so stopping can wait for them.</summary>
internal sealed class BackgroundWork
{
    private readonly ConcurrentDictionary<long, Task> _tasks = new();
    private long _next;

    public int Count => _tasks.Count;

    /// <summary>Tracks a task until it ends; it must handle its own exceptions.</summary>
    public void Track(Task task)
    {
        var id = Interlocked.Increment(ref _next);
        _tasks[id] = task;
        task.ContinueWith(
            static (finished, state) =>
            {
                var entry = (Entry)state!;
                entry.Tasks.TryRemove(entry.Id, out _);
            },
            new Entry(_tasks, id),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public Task WhenAll() => Task.WhenAll(_tasks.Values);

    private sealed record Entry(ConcurrentDictionary<long, Task> Tasks, long Id);
}
