using System.Collections.Immutable;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Orchestration.State;

/// <summary>
/// A state store that holds the whole keyspace, with its history since the compaction point, as
/// immutable in-memory snapshots, and optionally makes every change durable through an
/// <see cref="IStateJournal"/> before acknowledging it (the SQLite store does that).
/// </summary>
/// <remarks>
/// <para>Writers serialize on one lock, check their precondition against the newest state (including
/// writes not yet durable), take the next revision and queue the change. With a journal, one
/// committer thread appends whatever is queued as a single batch (group commit: many writers share
/// one fsync), then publishes the batch to readers and watchers and completes the writers. Readers
/// only ever see published, durable state, so reads are linearizable and never wait for writes.</para>
/// <para>If the journal fails, the store stops: the failed and queued writes fail, and every later
/// call throws <see cref="StoreClosedException"/>. Nothing acknowledged is lost.</para>
/// </remarks>
public partial class MvccStateStore : IStateStore
{
    private readonly StateStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IStateJournal? _journal;
    private readonly Lock _writeLock = new();
    private readonly Lock _publishLock = new();
    private readonly EventLog _log;
    private readonly Dictionary<long, LeaseEntry> _leases = [];
    private readonly Channel<CommitItem>? _commitQueue;
    private readonly Task? _committer;
    private readonly ITimer _leaseTimer;
    private readonly ITimer? _compactionTimer;
    private MvccSnapshot _pending;
    private MvccSnapshot _published;
    private long _compactRevision;
    private long _lastCompactionMark;
    private Exception? _closedBecause;

    /// <summary>Creates a store; with a journal, loads what it holds first.</summary>
    /// <param name="options">Limits and timings.</param>
    /// <param name="journal">Where changes are made durable, or null to keep everything in memory only.</param>
    /// <param name="timeProvider">The clock for lease expiry and background compaction.</param>
    /// <param name="logger">Where to log.</param>
    public MvccStateStore(StateStoreOptions? options = null, IStateJournal? journal = null, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        _options = options ?? new StateStoreOptions();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _journal = journal;
        _log = new EventLog(_options.MaxWatchLag);
        _pending = MvccSnapshot.Empty;

        if (journal is not null)
        {
            Restore(journal.Load());
            _commitQueue = Channel.CreateUnbounded<CommitItem>(new UnboundedChannelOptions { SingleReader = true });
            _committer = Task.Factory.StartNew(RunCommitter, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        }
        else
        {
            _log.Initialize(0);
        }

        _published = _pending;
        _leaseTimer = _time.CreateTimer(_ => ExpireLeases(), null, _options.LeaseCheckInterval, _options.LeaseCheckInterval);
        if (_options.CompactionInterval is { } interval && interval > TimeSpan.Zero)
        {
            _compactionTimer = _time.CreateTimer(_ => CompactInBackground(), null, interval, interval);
        }
    }

    /// <inheritdoc />
    public ValueTask<StateKeyValue?> GetAsync(string key, long revision = 0, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateKey(key, _options.MaxKeyBytes);
        StateRequestValidation.ValidateRevision(revision);
        var snapshot = ReadableSnapshot(ref revision);
        return new ValueTask<StateKeyValue?>(snapshot.Find(key)?.At(revision));
    }

    /// <inheritdoc />
    public ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateRange(request, _options.MaxKeyBytes);
        var revision = request.Revision;
        var snapshot = ReadableSnapshot(ref revision);
        var prefix = request.Prefix;
        var start = request.StartAfter is { } after && string.CompareOrdinal(after, prefix) >= 0 ? after + "\0" : prefix;
        var keys = snapshot.Keys;
        var index = keys.IndexOf(KeyNode.Probe(start));
        if (index < 0)
        {
            index = ~index;
        }

        var items = new List<StateKeyValue>();
        var hasMore = false;
        for (; index < keys.Count; index++)
        {
            var node = keys[index];
            if (!node.Key.StartsWith(prefix, StringComparison.Ordinal))
            {
                break;
            }

            if (node.At(revision) is not { } kv)
            {
                continue;
            }

            if (request.Limit > 0 && items.Count == request.Limit)
            {
                hasMore = true;
                break;
            }

            items.Add(kv);
        }

        return new ValueTask<RangeResult>(new RangeResult(items, revision, hasMore));
    }

    /// <inheritdoc />
    public ValueTask<IStateWatch> WatchAsync(WatchRequest request, CancellationToken cancellationToken = default)
    {
        StateRequestValidation.ValidateWatch(request, _options.MaxKeyBytes);

        lock (_publishLock)
        {
            ThrowIfClosed();
            var current = _published.Revision;
            var after = request.AfterRevision ?? current;
            var compacted = Math.Max(_published.CompactRevision, Volatile.Read(ref _compactRevision));
            if (after < compacted)
            {
                throw new CompactedException(after, compacted);
            }

            if (after > current)
            {
                throw new FutureRevisionException(after, current);
            }

            var watch = new LogWatch(_log, request, after, _log.Seek(after));
            _log.Register(watch);
            return new ValueTask<IStateWatch>(watch);
        }
    }

    /// <inheritdoc />
    public ValueTask<StateStoreStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        var snapshot = Volatile.Read(ref _published);
        return new ValueTask<StateStoreStatus>(new StateStoreStatus(snapshot.Revision, Math.Max(snapshot.CompactRevision, Volatile.Read(ref _compactRevision))));
    }

    /// <summary>
    /// The published snapshot, after checking that <paramref name="revision"/> can be read from it;
    /// a revision of 0 becomes the snapshot's own.
    /// </summary>
    private MvccSnapshot ReadableSnapshot(ref long revision)
    {
        ThrowIfClosed();
        var snapshot = Volatile.Read(ref _published);
        if (revision == 0)
        {
            revision = snapshot.Revision;
            return snapshot;
        }

        if (revision > snapshot.Revision)
        {
            throw new FutureRevisionException(revision, snapshot.Revision);
        }

        var compacted = Math.Max(snapshot.CompactRevision, Volatile.Read(ref _compactRevision));
        if (revision < compacted)
        {
            throw new CompactedException(revision, compacted);
        }

        return snapshot;
    }

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closedBecause) is { } reason)
        {
            throw reason as StoreClosedException ?? new StoreClosedException($"the store stopped: {reason.Message}", reason);
        }
    }

    /// <summary>Rebuilds the in-memory state from what the journal recorded.</summary>
    private void Restore(JournalContents contents)
    {
        var heads = new Dictionary<string, KeyNode>(StringComparer.Ordinal);
        var events = new List<StateEvent>();
        long revision = contents.CompactRevision;
        foreach (var entry in contents.Changes)
        {
            switch (entry)
            {
                case JournalPut put:
                    heads.TryGetValue(put.Kv.Key, out var before);
                    heads[put.Kv.Key] = new KeyNode(put.Kv.Key, put.Kv, put.Kv.ModRevision, before);
                    if (put.Kv.ModRevision > contents.CompactRevision)
                    {
                        events.Add(new StateEvent(StateEventType.Put, put.Kv, before?.Value));
                    }

                    revision = Math.Max(revision, put.Kv.ModRevision);
                    break;
                case JournalDelete delete:
                    heads.TryGetValue(delete.Key, out var deleted);
                    heads[delete.Key] = new KeyNode(delete.Key, null, delete.Revision, deleted);
                    if (delete.Revision > contents.CompactRevision && deleted?.Value is { } previous)
                    {
                        events.Add(new StateEvent(StateEventType.Delete, new StateKeyValue { Key = delete.Key, ModRevision = delete.Revision }, previous));
                    }

                    revision = Math.Max(revision, delete.Revision);
                    break;
                default:
                    throw new StoreCorruptException($"the journal returned a {entry.GetType().Name} among key changes.");
            }
        }

        var builder = ImmutableSortedSet.CreateBuilder(KeyNodeComparer.Instance);
        foreach (var head in heads.Values)
        {
            builder.Add(head);
        }

        _pending = new MvccSnapshot(builder.ToImmutable(), revision, contents.CompactRevision);
        _compactRevision = contents.CompactRevision;
        _lastCompactionMark = revision;
        _log.Initialize(contents.CompactRevision);
        foreach (var evt in events)
        {
            _log.Append(evt);
        }

        _log.Advance(revision);
        var now = _time.GetUtcNow();
        foreach (var lease in contents.Leases)
        {
            _leases[lease.Id] = new LeaseEntry(lease.Ttl, now + lease.Ttl);
        }

        foreach (var head in heads.Values)
        {
            if (head.Value is { Lease: not 0 } kv)
            {
                if (_leases.TryGetValue(kv.Lease, out var lease))
                {
                    lease.Keys.Add(kv.Key);
                }
                else
                {
                    LogKeyLeaseMissing(kv.Key, kv.Lease);
                }
            }
        }
    }
}
