namespace Orchestration.State;

/// <summary>
/// The durable half of a store built on <see cref="MvccStateStore"/>: it records every change and
/// gives them back at start. The store keeps the live state in memory and calls the journal from
/// one thread only, in revision order.
/// </summary>
public interface IStateJournal : IDisposable
{
    /// <summary>Reads everything recorded, for the store to rebuild its state at start.</summary>
    /// <exception cref="StoreCorruptException">The files are not a journal of this kind.</exception>
    JournalContents Load();

    /// <summary>
    /// Records a batch of entries atomically and durably: when this returns, all of them survive a
    /// crash; when it throws, none of them were recorded.
    /// </summary>
    void Append(IReadOnlyList<JournalEntry> entries);
}

/// <summary>What a journal held at start.</summary>
/// <param name="CompactRevision">The newest revision compacted.</param>
/// <param name="Changes">
/// Every recorded key change (<see cref="JournalPut"/> and <see cref="JournalDelete"/>) in revision
/// order: the newest version at or before the compaction point of each key that still exists, then
/// every change after it.
/// </param>
/// <param name="Leases">The leases that were granted and not yet revoked.</param>
public sealed record JournalContents(long CompactRevision, IReadOnlyList<JournalEntry> Changes, IReadOnlyList<StateLease> Leases);

/// <summary>One thing a journal records.</summary>
public abstract record JournalEntry;

/// <summary>A key was written: <see cref="StateKeyValue.ModRevision"/> is the revision of the write.</summary>
public sealed record JournalPut(StateKeyValue Kv) : JournalEntry;

/// <summary>A key was deleted at <paramref name="Revision"/>.</summary>
public sealed record JournalDelete(string Key, long Revision) : JournalEntry;

/// <summary>A lease was granted.</summary>
public sealed record JournalLeaseGrant(long LeaseId, TimeSpan Ttl) : JournalEntry;

/// <summary>A lease ended (its keys' deletes are in the same batch).</summary>
public sealed record JournalLeaseRevoke(long LeaseId) : JournalEntry;

/// <summary>History at or before <paramref name="Revision"/> may be forgotten, keeping each key's newest version.</summary>
public sealed record JournalCompact(long Revision) : JournalEntry;
