namespace Orchestration.State;

public partial class MvccStateStore
{
    private const int MaxCommitBatch = 1024;

    private bool _disposed;

    /// <summary>
    /// Makes <paramref name="after"/> the newest state and returns <paramref name="result"/> once the
    /// change is durable and visible. Under the write lock.
    /// </summary>
    private ValueTask<T> Commit<T>(MvccSnapshot after, IReadOnlyList<JournalEntry> entries, IReadOnlyList<StateEvent> events, T result, CancellationToken cancellationToken)
    {
        _pending = after;
        if (_commitQueue is null)
        {
            Publish(after, events);
            _log.Signal();
            return new ValueTask<T>(result);
        }

        var item = new CommitItem(entries, events, after);
        _commitQueue.Writer.TryWrite(item);
        return AwaitCommitAsync(item.Done.Task, result, cancellationToken);
    }

    /// <summary>
    /// A failed precondition. It was checked against state that may not be durable yet, so with a
    /// journal it is answered only after the writes before it are.
    /// </summary>
    private ValueTask<WriteResult> Conflict(MvccSnapshot snapshot, StateKeyValue? current)
    {
        var result = new WriteResult { Succeeded = false, Revision = snapshot.Revision, Current = current };
        if (_commitQueue is null || ReferenceEquals(snapshot, Volatile.Read(ref _published)))
        {
            return new ValueTask<WriteResult>(result);
        }

        var barrier = new CommitItem([], [], snapshot);
        _commitQueue.Writer.TryWrite(barrier);
        return AwaitCommitAsync(barrier.Done.Task, result, CancellationToken.None);
    }

    private static async ValueTask<T> AwaitCommitAsync<T>(Task durable, T result, CancellationToken cancellationToken)
    {
        await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    private void Publish(MvccSnapshot after, IReadOnlyList<StateEvent> events)
    {
        lock (_publishLock)
        {
            foreach (var evt in events)
            {
                _log.Append(evt);
            }

            _log.Advance(after.Revision);
            Volatile.Write(ref _published, after);
        }
    }

    /// <summary>Appends what is queued to the journal in batches, then publishes each batch.</summary>
    private async Task RunCommitter()
    {
        var reader = _commitQueue!.Reader;
        var batch = new List<CommitItem>();
        var entries = new List<JournalEntry>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            entries.Clear();
            while (batch.Count < MaxCommitBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
                entries.AddRange(item.Entries);
            }

            try
            {
                if (entries.Count > 0)
                {
                    _journal!.Append(entries);
                }
            }
            catch (Exception ex)
            {
                FailJournal(ex, batch);
                return;
            }

            lock (_publishLock)
            {
                foreach (var item in batch)
                {
                    foreach (var evt in item.Events)
                    {
                        _log.Append(evt);
                    }
                }

                var newest = batch[^1].After;
                _log.Advance(newest.Revision);
                if (newest.Revision >= Volatile.Read(ref _published).Revision)
                {
                    Volatile.Write(ref _published, newest);
                }
            }

            _log.Signal();
            foreach (var item in batch)
            {
                item.Done.TrySetResult();
            }
        }
    }

    private void FailJournal(Exception error, List<CommitItem> batch)
    {
        var closed = new StoreClosedException($"writing to the journal failed, so the store stopped; acknowledged writes are safe, this one was not made: {error.Message}", error);
        LogJournalFailed(error);
        lock (_writeLock)
        {
            _closedBecause ??= closed;
            _commitQueue!.Writer.TryComplete();
        }

        foreach (var item in batch)
        {
            item.Done.TrySetException(closed);
        }

        while (_commitQueue.Reader.TryRead(out var queued))
        {
            queued.Done.TrySetException(closed);
        }

        _log.FailAll(closed);
    }

    /// <summary>
    /// Stops the store: refuses new work, finishes (and acknowledges) the writes already queued,
    /// ends every watch and closes the journal.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _closedBecause ??= new StoreClosedException("the store was closed.");
            _commitQueue?.Writer.TryComplete();
        }

        await _leaseTimer.DisposeAsync().ConfigureAwait(false);
        if (_compactionTimer is not null)
        {
            await _compactionTimer.DisposeAsync().ConfigureAwait(false);
        }

        if (_committer is not null)
        {
            await _committer.ConfigureAwait(false);
        }

        _log.FailAll(new StoreClosedException("the store was closed."));
        _journal?.Dispose();
        GC.SuppressFinalize(this);
    }

    private sealed class CommitItem(IReadOnlyList<JournalEntry> entries, IReadOnlyList<StateEvent> events, MvccSnapshot after)
    {
        public IReadOnlyList<JournalEntry> Entries { get; } = entries;

        public IReadOnlyList<StateEvent> Events { get; } = events;

        public MvccSnapshot After { get; } = after;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
