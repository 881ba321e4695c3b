using System.Collections.Concurrent;

namespace Orchestration.State;

/// <summary>
/// The changes since the compaction point, in revision order, for watchers to pull from.
/// </summary>
/// <remarks>
/// One writer appends (under the store's publish lock); any number of watchers read without
/// locking it. Watchers pull at their own pace, so a slow one never slows the writer or the
/// others. The log is a chain of fixed-size chunks: trimming moves the head forward and a chunk
/// is freed once no watcher stands in it. A watcher that lags more than the allowed number of
/// revisions is failed and lets go of its chunk, so a stuck watcher cannot pin history forever.
/// </remarks>
internal sealed class EventLog
{
    internal const int ChunkSize = 1024;

    private readonly ConcurrentDictionary<LogWatch, byte> _watches = new();
    private Chunk _head;
    private Chunk _tail;
    private TaskCompletionSource _appended = NewSignal();
    private long _lastRevision;

    public EventLog(long maxLag)
    {
        MaxLag = maxLag;
        _head = _tail = new Chunk();
    }

    public long MaxLag { get; }

    /// <summary>The revision of the newest appended event (or of the store when the log was made).</summary>
    public long LastRevision => Volatile.Read(ref _lastRevision);

    /// <summary>Completes at the next <see cref="Signal"/>; take it before looking for events, so none is missed.</summary>
    public Task NextSignal => Volatile.Read(ref _appended).Task;

    /// <summary>Sets the revision the log starts after, before anything is appended.</summary>
    public void Initialize(long revision) => _lastRevision = revision;

    /// <summary>Appends one event. Callers hold the publish lock and call <see cref="Signal"/> after a batch.</summary>
    public void Append(StateEvent evt)
    {
        if (_tail.Count == ChunkSize)
        {
            var next = new Chunk();
            Volatile.Write(ref _tail.Next, next);
            _tail = next;
            FailLaggards(evt.Revision);
        }

        _tail.Items[_tail.Count] = evt;
        Volatile.Write(ref _tail.Count, _tail.Count + 1);
        Volatile.Write(ref _lastRevision, evt.Revision);
    }

    /// <summary>Records that the store reached <paramref name="revision"/> without an event (nothing to append).</summary>
    public void Advance(long revision)
    {
        if (revision > _lastRevision)
        {
            Volatile.Write(ref _lastRevision, revision);
        }
    }

    /// <summary>Wakes every waiting watcher.</summary>
    public void Signal() => Interlocked.Exchange(ref _appended, NewSignal()).TrySetResult();

    /// <summary>The position of the first event with a revision greater than <paramref name="afterRevision"/>. Under the publish lock.</summary>
    public (Chunk Chunk, int Index) Seek(long afterRevision)
    {
        var chunk = _head;
        while (true)
        {
            var count = chunk.Count;
            if (count > 0 && chunk.Items[count - 1].Revision > afterRevision)
            {
                var index = 0;
                while (chunk.Items[index].Revision <= afterRevision)
                {
                    index++;
                }

                return (chunk, index);
            }

            if (chunk.Next is null)
            {
                return (chunk, count);
            }

            chunk = chunk.Next;
        }
    }

    /// <summary>Drops whole chunks that hold only events at or before <paramref name="compactRevision"/>. Under the publish lock.</summary>
    public void Trim(long compactRevision)
    {
        while (_head.Next is not null && _head.Count == ChunkSize && _head.Items[ChunkSize - 1].Revision <= compactRevision)
        {
            _head = _head.Next;
        }
    }

    public void Register(LogWatch watch) => _watches.TryAdd(watch, 0);

    public void Unregister(LogWatch watch) => _watches.TryRemove(watch, out _);

    /// <summary>Fails every open watch (the store is closing).</summary>
    public void FailAll(Exception error)
    {
        foreach (var watch in _watches.Keys)
        {
            watch.Fail(error);
        }

        Signal();
    }

    private void FailLaggards(long revision)
    {
        foreach (var watch in _watches.Keys)
        {
            var position = watch.PositionRevision;
            if (revision - position > MaxLag)
            {
                watch.Fail(new WatchFellBehindException(position, revision, $"more than {MaxLag} revisions behind"));
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal sealed class Chunk
    {
        public readonly StateEvent[] Items = new StateEvent[ChunkSize];
        public int Count;
        public Chunk? Next;
    }
}
