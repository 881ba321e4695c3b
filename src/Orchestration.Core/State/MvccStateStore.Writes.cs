namespace Orchestration.State;

public partial class MvccStateStore
{
    /// <inheritdoc />
    public ValueTask<WriteResult> CreateAsync(string key, ReadOnlyMemory<byte> value, long lease = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateWrite(key, value, lease, _options);
        lock (_writeLock)
        {
            ThrowIfClosed();
            var snapshot = _pending;
            var existing = snapshot.Find(key);
            if (existing?.Value is { } current)
            {
                return Conflict(snapshot, current);
            }

            RequireLease(lease);
            var revision = snapshot.Revision + 1;
            var kv = new StateKeyValue { Key = key, Value = value.ToArray(), CreateRevision = revision, ModRevision = revision, Version = 1, Lease = lease };
            AttachToLease(key, 0, lease);
            return Commit(
                snapshot.With(new KeyNode(key, kv, revision, existing), existing, revision),
                [new JournalPut(kv)],
                [new StateEvent(StateEventType.Put, kv, null)],
                new WriteResult { Succeeded = true, Revision = revision, Current = kv },
                cancellationToken);
        }
    }

    /// <inheritdoc />
    public ValueTask<WriteResult> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedModRevision, long lease = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateWrite(key, value, lease, _options);
        StateRequestValidation.ValidateUpdatePrecondition(expectedModRevision);

        lock (_writeLock)
        {
            ThrowIfClosed();
            var snapshot = _pending;
            var node = snapshot.Find(key);
            if (node?.Value is not { } current || current.ModRevision != expectedModRevision)
            {
                return Conflict(snapshot, node?.Value);
            }

            RequireLease(lease);
            var revision = snapshot.Revision + 1;
            var kv = new StateKeyValue
            {
                Key = key,
                Value = value.ToArray(),
                CreateRevision = current.CreateRevision,
                ModRevision = revision,
                Version = current.Version + 1,
                Lease = lease,
            };
            AttachToLease(key, current.Lease, lease);
            return Commit(
                snapshot.With(new KeyNode(key, kv, revision, node), node, revision),
                [new JournalPut(kv)],
                [new StateEvent(StateEventType.Put, kv, current)],
                new WriteResult { Succeeded = true, Revision = revision, Current = kv, Previous = current },
                cancellationToken);
        }
    }

    /// <inheritdoc />
    public ValueTask<WriteResult> DeleteAsync(string key, long expectedModRevision = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateKey(key, _options.MaxKeyBytes);
        StateRequestValidation.ValidateDeletePrecondition(expectedModRevision);

        lock (_writeLock)
        {
            ThrowIfClosed();
            var snapshot = _pending;
            var node = snapshot.Find(key);
            if (node?.Value is not { } current || (expectedModRevision != 0 && current.ModRevision != expectedModRevision))
            {
                return Conflict(snapshot, node?.Value);
            }

            var revision = snapshot.Revision + 1;
            AttachToLease(key, current.Lease, 0);
            return Commit(
                snapshot.With(new KeyNode(key, null, revision, node), node, revision),
                [new JournalDelete(key, revision)],
                [new StateEvent(StateEventType.Delete, new StateKeyValue { Key = key, ModRevision = revision }, current)],
                new WriteResult { Succeeded = true, Revision = revision, Previous = current },
                cancellationToken);
        }
    }

    /// <inheritdoc />
    public ValueTask CompactAsync(long revision, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateRevision(revision);
        lock (_writeLock)
        {
            ThrowIfClosed();
            var current = Volatile.Read(ref _published).Revision;
            if (revision > current)
            {
                throw new FutureRevisionException(revision, current);
            }

            if (revision <= Volatile.Read(ref _compactRevision))
            {
                return ValueTask.CompletedTask;
            }

            if (_commitQueue is null)
            {
                ApplyCompaction(revision);
                return ValueTask.CompletedTask;
            }

            var item = new CommitItem([new JournalCompact(revision)], [], _pending);
            _commitQueue.Writer.TryWrite(item);
            return CompactWhenDurableAsync(item.Done.Task, revision, cancellationToken);
        }
    }

    private async ValueTask CompactWhenDurableAsync(Task durable, long revision, CancellationToken cancellationToken)
    {
        await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        ApplyCompaction(revision);
    }

    /// <summary>Drops in-memory history at or before <paramref name="revision"/>.</summary>
    private void ApplyCompaction(long revision)
    {
        lock (_writeLock)
        {
            if (revision <= _compactRevision)
            {
                return;
            }

            var idle = ReferenceEquals(_pending, Volatile.Read(ref _published));
            var compacted = _pending.Compact(revision);
            _pending = compacted;
            lock (_publishLock)
            {
                Volatile.Write(ref _compactRevision, revision);

                // With writes in flight their snapshots still hold the old history; that is only
                // memory, because reads below the compaction point are refused either way.
                if (idle)
                {
                    Volatile.Write(ref _published, compacted);
                }

                _log.Trim(revision);
            }
        }
    }

    private void CompactInBackground()
    {
        if (Volatile.Read(ref _closedBecause) is not null)
        {
            return;
        }

        var mark = Interlocked.Exchange(ref _lastCompactionMark, Volatile.Read(ref _published).Revision);
        if (mark <= Volatile.Read(ref _compactRevision))
        {
            return;
        }

        _ = ObserveAsync(CompactAsync(mark).AsTask(), $"background compaction to revision {mark}");
    }
}
