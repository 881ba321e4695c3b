namespace Orchestration.State;

/// <summary>Reads a revisioned key/value store.</summary>
/// <remarks>
/// Reads are linearizable: a read that starts after a write was acknowledged sees that write
/// (or a later one). A read at an explicit revision sees the store exactly as it was then.
/// </remarks>
public interface IStateReader
{
    /// <summary>Reads one key.</summary>
    /// <param name="key">The key.</param>
    /// <param name="revision">The revision to read at; 0 for the newest.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The key's version at that revision, or null when it did not exist then.</returns>
    /// <exception cref="CompactedException">The revision is older than the compaction point.</exception>
    /// <exception cref="FutureRevisionException">The revision has not happened yet.</exception>
    ValueTask<StateKeyValue?> GetAsync(string key, long revision = 0, CancellationToken cancellationToken = default);

    /// <summary>Reads the keys under a prefix, in ascending ordinal order, as one consistent snapshot.</summary>
    /// <exception cref="CompactedException">The revision is older than the compaction point.</exception>
    /// <exception cref="FutureRevisionException">The revision has not happened yet.</exception>
    ValueTask<RangeResult> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default);
}
