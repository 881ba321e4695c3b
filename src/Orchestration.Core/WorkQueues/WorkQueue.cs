namespace Orchestration.WorkQueues;

/// <summary>
/// The queue between watches and reconcilers, with client-go's guarantees: an item waiting twice is
/// queued once; an item being processed is never handed to a second worker (added again meanwhile,
/// it is queued when the first worker is done); failures are retried with a per-item exponential
/// backoff bounded by an overall rate; items can be added after a delay; after shutdown, getters
/// are released and nothing new is accepted.
/// </summary>
/// <typeparam name="T">The item, usually an object key.</typeparam>
public sealed class WorkQueue<T> : IDisposable
    where T : notnull
{
    private readonly Lock _sync = new();
    private readonly Queue<T> _queue = new();
    private readonly HashSet<T> _dirty = [];
    private readonly HashSet<T> _processing = [];
    private readonly Dictionary<T, int> _failures = [];
    private readonly Dictionary<T, (DateTimeOffset Due, ITimer Timer)> _delayed = [];
    private readonly Queue<TaskCompletionSource<bool>> _getters = new();
    private readonly WorkQueueOptions _options;
    private readonly TimeProvider _timeProvider;
    private double _tokens;
    private DateTimeOffset _tokensAt;
    private bool _shuttingDown;

    /// <summary>Creates an empty queue.</summary>
    public WorkQueue(WorkQueueOptions? options = null, TimeProvider? timeProvider = null)
    {
        _options = options ?? new WorkQueueOptions();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _tokens = _options.RetryBurst;
        _tokensAt = _timeProvider.GetUtcNow();
    }

    /// <summary>Items waiting (not counting those being processed or delayed).</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>Whether <see cref="ShutDown"/> was called.</summary>
    public bool IsShuttingDown
    {
        get
        {
            lock (_sync)
            {
                return _shuttingDown;
            }
        }
    }

    /// <summary>Queues an item unless it is already waiting.</summary>
    public void Add(T item)
    {
        TaskCompletionSource<bool>? getter = null;
        lock (_sync)
        {
            if (_shuttingDown || !_dirty.Add(item))
            {
                return;
            }

            if (_processing.Contains(item))
            {
                // Queued when its worker calls Done, so no two workers hold it at once.
                return;
            }

            _queue.Enqueue(item);
            getter = NextGetter();
        }

        getter?.TrySetResult(true);
    }

    /// <summary>Queues an item after a delay; a second request keeps the earlier time.</summary>
    public void AddAfter(T item, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(item);
            return;
        }

        lock (_sync)
        {
            if (_shuttingDown)
            {
                return;
            }

            var due = _timeProvider.GetUtcNow() + delay;
            if (_delayed.TryGetValue(item, out var existing))
            {
                if (existing.Due <= due)
                {
                    return;
                }

                existing.Timer.Dispose();
            }

            var timer = _timeProvider.CreateTimer(_ => Fire(item, due), null, delay, Timeout.InfiniteTimeSpan);
            _delayed[item] = (due, timer);
        }
    }

    /// <summary>Queues a failed item again after its backoff (and the overall rate) allows.</summary>
    public void AddRateLimited(T item) => AddAfter(item, NextDelay(item));

    /// <summary>Clears an item's failure count: its next failure starts from the base delay again.</summary>
    public void Forget(T item)
    {
        lock (_sync)
        {
            _failures.Remove(item);
        }
    }

    /// <summary>How many times an item has been retried since it was last forgotten.</summary>
    public int Requeues(T item)
    {
        lock (_sync)
        {
            return _failures.GetValueOrDefault(item);
        }
    }

    /// <summary>Waits for an item; false when the queue shuts down.</summary>
    public async Task<(bool Ok, T Item)> GetAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            TaskCompletionSource<bool> waiter;
            lock (_sync)
            {
                if (_shuttingDown)
                {
                    return (false, default!);
                }

                if (_queue.TryDequeue(out var item))
                {
                    _dirty.Remove(item);
                    _processing.Add(item);
                    return (true, item);
                }

                waiter = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                _getters.Enqueue(waiter);
            }

            using (cancellationToken.Register(() => waiter.TrySetCanceled(cancellationToken)))
            {
                await waiter.Task.ConfigureAwait(false);
            }
        }
    }

    /// <summary>Marks an item processed; if it was added meanwhile, it is queued now.</summary>
    public void Done(T item)
    {
        TaskCompletionSource<bool>? getter = null;
        lock (_sync)
        {
            _processing.Remove(item);
            if (_dirty.Contains(item) && !_shuttingDown)
            {
                _queue.Enqueue(item);
                getter = NextGetter();
            }
        }

        getter?.TrySetResult(true);
    }

    /// <summary>Stops the queue: waiting getters return false, delayed items are dropped, adds are ignored.</summary>
    public void ShutDown()
    {
        List<TaskCompletionSource<bool>> getters;
        lock (_sync)
        {
            _shuttingDown = true;
            foreach (var (_, (_, timer)) in _delayed)
            {
                timer.Dispose();
            }

            _delayed.Clear();
            getters = [.. _getters];
            _getters.Clear();
        }

        foreach (var getter in getters)
        {
            getter.TrySetResult(false);
        }
    }

    /// <inheritdoc />
    public void Dispose() => ShutDown();

    private void Fire(T item, DateTimeOffset due)
    {
        lock (_sync)
        {
            if (!_delayed.TryGetValue(item, out var entry) || entry.Due != due)
            {
                return;
            }

            entry.Timer.Dispose();
            _delayed.Remove(item);
        }

        Add(item);
    }

    /// <summary>The larger of the item's exponential backoff and the overall token bucket's wait.</summary>
    private TimeSpan NextDelay(T item)
    {
        lock (_sync)
        {
            var failures = _failures.GetValueOrDefault(item);
            _failures[item] = failures + 1;
            var backoff = TimeSpan.FromTicks((long)Math.Min(_options.MaxDelay.Ticks, _options.BaseDelay.Ticks * Math.Pow(2, Math.Min(failures, 62))));

            var now = _timeProvider.GetUtcNow();
            _tokens = Math.Min(_options.RetryBurst, _tokens + ((now - _tokensAt).TotalSeconds * _options.RetriesPerSecond));
            _tokensAt = now;
            _tokens -= 1;
            var bucket = _tokens >= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(-_tokens / _options.RetriesPerSecond);
            return backoff > bucket ? backoff : bucket;
        }
    }

    private TaskCompletionSource<bool>? NextGetter()
    {
        while (_getters.TryDequeue(out var getter))
        {
            if (!getter.Task.IsCompleted)
            {
                return getter;
            }
        }

        return null;
    }
}
