namespace Orchestration.State;

/// <summary>Drops history that nobody needs any more.</summary>
public interface IStateCompactor
{
    /// <summary>
    /// Forgets every version superseded at or before <paramref name="revision"/>. Afterwards reads
    /// and watches from before that revision fail with <see cref="CompactedException"/>; the newest
    /// version of every key stays readable. Compacting to a revision at or below the current
    /// compaction point does nothing.
    /// </summary>
    /// <exception cref="FutureRevisionException">The revision has not happened yet.</exception>
    ValueTask CompactAsync(long revision, CancellationToken cancellationToken = default);

    /// <summary>The store's current revision and compaction point.</summary>
    ValueTask<StateStoreStatus> GetStatusAsync(CancellationToken cancellationToken = default);
}

/// <summary>Where a store stands.</summary>
/// <param name="Revision">The revision of the newest write.</param>
/// <param name="CompactRevision">The newest revision compacted; reads at older revisions fail.</param>
public sealed record StateStoreStatus(long Revision, long CompactRevision);
