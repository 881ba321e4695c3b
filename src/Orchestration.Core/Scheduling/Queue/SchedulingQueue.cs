namespace Orchestration.Scheduling.Queue;

/// <summary>
/// kube-scheduler's scheduling queue: pods waiting to be tried are in the active queue, ordered by
/// the queue-sort plugin; a pod that failed waits out a per-pod exponential backoff (1 s doubling
/// to 10 s by default) in the backoff queue; a pod no node could take waits among the unschedulable
/// pods until a cluster event (a node added or changed, a pod deleted) may have made room, or at
/// most <see cref="SchedulingQueueOptions.MaxInUnschedulable"/>. Time comes from the TimeProvider,
/// whose timers move pods out of backoff and out of the unschedulable pods.
/// </summary>
public sealed class SchedulingQueue : IDisposable
{
    private readonly TimeProvider _timeProvider;
    private readonly SchedulingQueueOptions _options;
    private readonly Lock _sync = new();
    private readonly SortedSet<QueuedPod> _active;
    private readonly SortedSet<QueuedPod> _backoff;
    private readonly Dictionary<string, QueuedPod> _unschedulable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QueuedPod> _queued = new(StringComparer.Ordinal);
    private readonly Dictionary<string, QueuedPod> _inFlight = new(StringComparer.Ordinal);
    private readonly ITimer _backoffTimer;
    private readonly ITimer _unschedulableTimer;
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _sequence;
    private long _cycle;
    private long _moveRequestCycle = -1;
    private bool _closed;

    /// <summary>An empty queue ordered by <paramref name="sort"/>.</summary>
    public SchedulingQueue(IQueueSortPlugin sort, TimeProvider timeProvider, SchedulingQueueOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sort);
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _options = options ?? new SchedulingQueueOptions();
        _active = new SortedSet<QueuedPod>(Comparer<QueuedPod>.Create((x, y) =>
        {
            var order = sort.Compare(x.Pod, y.Pod);
            return order != 0 ? order : x.Sequence.CompareTo(y.Sequence);
        }));
        _backoff = new SortedSet<QueuedPod>(Comparer<QueuedPod>.Create((x, y) =>
        {
            var order = x.BackoffExpiry.CompareTo(y.BackoffExpiry);
            return order != 0 ? order : x.Sequence.CompareTo(y.Sequence);
        }));
        _backoffTimer = timeProvider.CreateTimer(_ => FlushBackoffCompleted(), null, _options.BackoffFlushInterval, _options.BackoffFlushInterval);
        _unschedulableTimer = timeProvider.CreateTimer(_ => FlushUnschedulableLeftover(), null, _options.UnschedulableFlushInterval, _options.UnschedulableFlushInterval);
    }

    /// <summary>Pods waiting to be tried now.</summary>
    public int ActiveCount
    {
        get
        {
            lock (_sync)
            {
                return _active.Count;
            }
        }
    }

    /// <summary>Pods waiting out their backoff.</summary>
    public int BackoffCount
    {
        get
        {
            lock (_sync)
            {
                return _backoff.Count;
            }
        }
    }

    /// <summary>Pods waiting for a cluster event.</summary>
    public int UnschedulableCount
    {
        get
        {
            lock (_sync)
            {
                return _unschedulable.Count;
            }
        }
    }

    /// <summary>The backoff after <paramref name="attempts"/> attempts: the initial backoff doubled per further attempt, at most the maximum.</summary>
    public TimeSpan BackoffFor(int attempts)
    {
        var backoff = _options.InitialBackoff;
        for (var i = 1; i < attempts && backoff < _options.MaxBackoff; i++)
        {
            backoff += backoff;
        }

        return backoff > _options.MaxBackoff ? _options.MaxBackoff : backoff;
    }

    /// <summary>
    /// A pending pod appeared or changed. A new pod goes to the active queue; a changed one keeps its
    /// place, except that an unschedulable pod is tried again (its change may make it fit).
    /// </summary>
    public void AddOrUpdate(SchedulingPod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        lock (_sync)
        {
            var key = pod.Key;
            if (_inFlight.TryGetValue(key, out var flying))
            {
                flying.Pod = pod;
                return;
            }

            if (!_queued.TryGetValue(key, out var queued))
            {
                queued = new QueuedPod(pod, _timeProvider.GetUtcNow());
                _queued[key] = queued;
                PushActive(queued);
                return;
            }

            if (_unschedulable.Remove(key))
            {
                queued.Pod = pod;
                MoveOut(queued);
            }
            else if (_active.Remove(queued))
            {
                // Its order may have changed with it (priority).
                queued.Pod = pod;
                _active.Add(queued);
            }
            else
            {
                queued.Pod = pod;
            }
        }
    }

    /// <summary>
    /// A pending pod changed in a way that cannot make it fit sooner (its status, say): the queue keeps
    /// the new view (a nominated node) but does not move it.
    /// </summary>
    public void Refresh(SchedulingPod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        lock (_sync)
        {
            if (_inFlight.TryGetValue(pod.Key, out var flying))
            {
                flying.Pod = pod;
            }
            else if (_queued.TryGetValue(pod.Key, out var queued))
            {
                // The active queue's order may depend on the pod: take it out while it changes.
                var active = _active.Remove(queued);
                queued.Pod = pod;
                if (active)
                {
                    _active.Add(queued);
                }
            }
        }
    }

    /// <summary>A pod was deleted or bound by someone else: it leaves the queue.</summary>
    public void Delete(string key)
    {
        lock (_sync)
        {
            _inFlight.Remove(key);
            if (_queued.Remove(key, out var queued))
            {
                _active.Remove(queued);
                _backoff.Remove(queued);
                _unschedulable.Remove(key);
            }
        }
    }

    /// <summary>Whether the queue holds the pod (active, backoff, unschedulable or being scheduled).</summary>
    public bool Contains(string key)
    {
        lock (_sync)
        {
            return _queued.ContainsKey(key) || _inFlight.ContainsKey(key);
        }
    }

    /// <summary>Takes the first active pod, waiting for one; null once the queue is closed.</summary>
    public async Task<QueuedPod?> PopAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task arrived;
            lock (_sync)
            {
                if (_closed)
                {
                    return null;
                }

                if (_active.Min is { } first)
                {
                    _active.Remove(first);
                    _queued.Remove(first.Pod.Key);
                    first.Attempts++;
                    first.Cycle = ++_cycle;
                    _inFlight[first.Pod.Key] = first;
                    return first;
                }

                arrived = _arrived.Task;
            }

            await arrived.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The pod taken by <see cref="PopAsync"/> was placed (or is gone): the queue forgets it.</summary>
    public void Done(string key)
    {
        lock (_sync)
        {
            _inFlight.Remove(key);
        }
    }

    /// <summary>
    /// The pod taken by <see cref="PopAsync"/> fit nowhere. It waits among the unschedulable pods for
    /// a cluster event; but if such an event came while it was being tried, it only backs off, as the
    /// event may already have made room. With <paramref name="error"/> (a failed binding, say) it backs off.
    /// </summary>
    public void AddUnschedulable(QueuedPod pod, bool error = false)
    {
        ArgumentNullException.ThrowIfNull(pod);
        lock (_sync)
        {
            var key = pod.Pod.Key;
            if (!_inFlight.Remove(key) || _queued.ContainsKey(key))
            {
                // Deleted (or bound elsewhere) while it was being tried.
                return;
            }

            pod.Timestamp = _timeProvider.GetUtcNow();
            _queued[key] = pod;
            if (error || _moveRequestCycle >= pod.Cycle)
            {
                PushBackoff(pod);
            }
            else
            {
                _unschedulable[key] = pod;
            }
        }
    }

    /// <summary>
    /// A cluster event that may let unschedulable pods fit (a node added or changed, a pod deleted):
    /// each goes to the active queue, or to backoff if its backoff has not ended.
    /// </summary>
    public void MoveAllToActiveOrBackoff()
    {
        lock (_sync)
        {
            foreach (var pod in _unschedulable.Values)
            {
                MoveOut(pod);
            }

            _unschedulable.Clear();
            _moveRequestCycle = _cycle;
        }
    }

    /// <summary>Stops the queue: waiting and later <see cref="PopAsync"/> calls return null.</summary>
    public void Close()
    {
        lock (_sync)
        {
            _closed = true;
            _arrived.TrySetResult();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Close();
        _backoffTimer.Dispose();
        _unschedulableTimer.Dispose();
    }

    private void FlushBackoffCompleted()
    {
        lock (_sync)
        {
            var now = _timeProvider.GetUtcNow();
            while (_backoff.Min is { } first && first.BackoffExpiry <= now)
            {
                _backoff.Remove(first);
                PushActive(first);
            }
        }
    }

    private void FlushUnschedulableLeftover()
    {
        lock (_sync)
        {
            var now = _timeProvider.GetUtcNow();
            foreach (var pod in _unschedulable.Values.Where(p => now - p.Timestamp >= _options.MaxInUnschedulable).ToList())
            {
                _unschedulable.Remove(pod.Pod.Key);
                MoveOut(pod);
            }
        }
    }

    private void MoveOut(QueuedPod pod)
    {
        if (pod.Timestamp + BackoffFor(pod.Attempts) > _timeProvider.GetUtcNow())
        {
            PushBackoff(pod);
        }
        else
        {
            PushActive(pod);
        }
    }

    private void PushActive(QueuedPod pod)
    {
        pod.Sequence = ++_sequence;
        _active.Add(pod);
        _arrived.TrySetResult();
        _arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private void PushBackoff(QueuedPod pod)
    {
        pod.Sequence = ++_sequence;
        pod.BackoffExpiry = pod.Timestamp + BackoffFor(Math.Max(1, pod.Attempts));
        _backoff.Add(pod);
    }
}
