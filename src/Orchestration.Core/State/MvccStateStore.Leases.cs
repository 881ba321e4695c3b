using Microsoft.Extensions.Logging;

namespace Orchestration.State;

public partial class MvccStateStore
{
    /// <inheritdoc />
    public ValueTask<StateLease> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateTtl(ttl);
        lock (_writeLock)
        {
            ThrowIfClosed();
            long id;
            do
            {
                id = Random.Shared.NextInt64(1, long.MaxValue);
            }
            while (_leases.ContainsKey(id));

            _leases[id] = new LeaseEntry(ttl, _time.GetUtcNow() + ttl);
            return Commit(_pending, [new JournalLeaseGrant(id, ttl)], [], new StateLease(id, ttl), cancellationToken);
        }
    }

    /// <inheritdoc />
    public ValueTask<TimeSpan> KeepAliveLeaseAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        lock (_writeLock)
        {
            ThrowIfClosed();
            var lease = LiveLease(leaseId);
            lease.ExpiresAt = _time.GetUtcNow() + lease.Ttl;
            return new ValueTask<TimeSpan>(lease.Ttl);
        }
    }

    /// <inheritdoc />
    public ValueTask RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        lock (_writeLock)
        {
            ThrowIfClosed();
            var lease = LiveLease(leaseId);
            return new ValueTask(RevokeLocked(leaseId, lease, cancellationToken).AsTask());
        }
    }

    /// <summary>The lease, when it exists and has not expired; an expired one is revoked on the spot.</summary>
    private LeaseEntry LiveLease(long leaseId)
    {
        if (!_leases.TryGetValue(leaseId, out var lease))
        {
            throw new LeaseNotFoundException(leaseId);
        }

        if (lease.ExpiresAt <= _time.GetUtcNow())
        {
            _ = ObserveAsync(RevokeLocked(leaseId, lease, CancellationToken.None).AsTask(), $"expiry of lease {leaseId}");
            throw new LeaseNotFoundException(leaseId);
        }

        return lease;
    }

    private void RequireLease(long leaseId)
    {
        if (leaseId != 0)
        {
            LiveLease(leaseId);
        }
    }

    private void AttachToLease(string key, long oldLease, long newLease)
    {
        if (oldLease != 0 && _leases.TryGetValue(oldLease, out var old))
        {
            old.Keys.Remove(key);
        }

        if (newLease != 0)
        {
            _leases[newLease].Keys.Add(key);
        }
    }

    /// <summary>Ends a lease and deletes its keys, each delete a revision of its own, in one journal batch. Under the write lock.</summary>
    private ValueTask<bool> RevokeLocked(long leaseId, LeaseEntry lease, CancellationToken cancellationToken)
    {
        _leases.Remove(leaseId);
        var snapshot = _pending;
        var entries = new List<JournalEntry>();
        var events = new List<StateEvent>();
        foreach (var key in lease.Keys.Order(StringComparer.Ordinal))
        {
            var node = snapshot.Find(key);
            if (node?.Value is not { } current || current.Lease != leaseId)
            {
                continue;
            }

            var revision = snapshot.Revision + 1;
            snapshot = snapshot.With(new KeyNode(key, null, revision, node), node, revision);
            entries.Add(new JournalDelete(key, revision));
            events.Add(new StateEvent(StateEventType.Delete, new StateKeyValue { Key = key, ModRevision = revision }, current));
        }

        entries.Add(new JournalLeaseRevoke(leaseId));
        return Commit(snapshot, entries, events, true, cancellationToken);
    }

    private void ExpireLeases()
    {
        lock (_writeLock)
        {
            if (_closedBecause is not null)
            {
                return;
            }

            var now = _time.GetUtcNow();
            foreach (var (id, lease) in _leases.Where(l => l.Value.ExpiresAt <= now).ToList())
            {
                _ = ObserveAsync(RevokeLocked(id, lease, CancellationToken.None).AsTask(), $"expiry of lease {id}");
            }
        }
    }

    private async Task ObserveAsync(Task work, string what)
    {
        try
        {
            await work.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreClosedException or OperationCanceledException)
        {
            LogClosedDuring(ex, what);
        }
        catch (Exception ex)
        {
            LogFailedDuring(ex, what);
        }
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "Key {Key} names lease {Lease}, which the journal does not hold; the key is kept without a lease.")]
    private partial void LogKeyLeaseMissing(string key, long lease);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Critical, Message = "The state store's journal failed; the store is stopping.")]
    private partial void LogJournalFailed(Exception ex);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Debug, Message = "The store closed during {What}.")]
    private partial void LogClosedDuring(Exception ex, string what);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "The store failed during {What}.")]
    private partial void LogFailedDuring(Exception ex, string what);

    private sealed class LeaseEntry(TimeSpan ttl, DateTimeOffset expiresAt)
    {
        public TimeSpan Ttl { get; } = ttl;

        public DateTimeOffset ExpiresAt { get; set; } = expiresAt;

        public HashSet<string> Keys { get; } = new(StringComparer.Ordinal);
    }
}
