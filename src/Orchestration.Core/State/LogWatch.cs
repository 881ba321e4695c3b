using System.Runtime.CompilerServices;

namespace Orchestration.State;

/// <summary>A watch that pulls the events it wants from an <see cref="EventLog"/>.</summary>
internal sealed class LogWatch : IStateWatch
{
    private const int BatchSize = 256;

    private readonly EventLog _log;
    private readonly string _key;
    private readonly bool _prefix;
    private readonly Lock _sync = new();
    private EventLog.Chunk? _chunk;
    private int _index;
    private long _positionRevision;
    private Exception? _failure;
    private int _reading;

    public LogWatch(EventLog log, WatchRequest request, long afterRevision, (EventLog.Chunk Chunk, int Index) position)
    {
        _log = log;
        _key = request.Key;
        _prefix = request.Prefix;
        AfterRevision = afterRevision;
        _positionRevision = afterRevision;
        (_chunk, _index) = position;
    }

    public long AfterRevision { get; }

    /// <summary>The revision up to which this watch has looked at the log.</summary>
    public long PositionRevision => Volatile.Read(ref _positionRevision);

    /// <summary>Stops the watch with an error and lets go of the history it held.</summary>
    public void Fail(Exception error)
    {
        lock (_sync)
        {
            _failure ??= error;
            _chunk = null;
        }
    }

    public async IAsyncEnumerable<StateEvent> ReadEventsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _reading, 1) == 1)
        {
            throw new InvalidOperationException("a watch has one reader at a time.");
        }

        try
        {
            var batch = new List<StateEvent>(BatchSize);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var signal = _log.NextSignal;
                ReadAvailable(batch);
                if (batch.Count == 0)
                {
                    await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }

                foreach (var evt in batch)
                {
                    yield return evt;
                }

                batch.Clear();
            }
        }
        finally
        {
            Volatile.Write(ref _reading, 0);
        }
    }

    public ValueTask DisposeAsync()
    {
        _log.Unregister(this);
        Fail(new ObjectDisposedException(nameof(IStateWatch), "the watch was disposed."));
        _log.Signal();
        return ValueTask.CompletedTask;
    }

    private void ReadAvailable(List<StateEvent> batch)
    {
        lock (_sync)
        {
            if (_failure is not null)
            {
                throw _failure is WatchFellBehindException or StoreClosedException or ObjectDisposedException
                    ? _failure
                    : new StoreClosedException(_failure.Message, _failure);
            }

            var lag = _log.LastRevision - _positionRevision;
            if (lag > _log.MaxLag)
            {
                _failure = new WatchFellBehindException(_positionRevision, _log.LastRevision, $"more than {_log.MaxLag} revisions behind");
                _chunk = null;
                throw _failure;
            }

            var chunk = _chunk!;
            var position = _positionRevision;
            var scanned = 0;
            while (batch.Count < BatchSize && scanned < BatchSize * 16)
            {
                if (_index == EventLog.ChunkSize)
                {
                    var next = Volatile.Read(ref chunk.Next);
                    if (next is null)
                    {
                        break;
                    }

                    chunk = next;
                    _index = 0;
                }

                if (_index >= Volatile.Read(ref chunk.Count))
                {
                    break;
                }

                var evt = chunk.Items[_index++];
                scanned++;
                position = evt.Revision;
                if (Matches(evt.Kv.Key))
                {
                    batch.Add(evt);
                }
            }

            _chunk = chunk;
            Volatile.Write(ref _positionRevision, position);
        }
    }

    private bool Matches(string key) =>
        _prefix ? key.StartsWith(_key, StringComparison.Ordinal) : string.Equals(key, _key, StringComparison.Ordinal);
}
