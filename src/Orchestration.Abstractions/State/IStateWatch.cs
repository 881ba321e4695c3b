namespace Orchestration.State;

/// <summary>An open watch on a key or prefix.</summary>
/// <remarks>
/// It delivers every change after <see cref="AfterRevision"/> to the watched keys, in revision
/// order, each exactly once. Several changes may share a revision only where the store applies
/// them in one transaction (etcd's lease expiry). A watcher that reads slowly never slows writers
/// or other watchers; when it falls further behind than the store keeps for it, reading throws
/// <see cref="WatchFellBehindException"/> instead of skipping events. Dispose it to stop.
/// </remarks>
public interface IStateWatch : IAsyncDisposable
{
    /// <summary>Changes with a revision greater than this are delivered.</summary>
    long AfterRevision { get; }

    /// <summary>The changes, as they happen. One reader at a time.</summary>
    /// <exception cref="WatchFellBehindException">The reader fell too far behind; open a new watch after a fresh read.</exception>
    /// <exception cref="CompactedException">The store compacted past the watch's position (etcd).</exception>
    /// <exception cref="StoreClosedException">The store was closed.</exception>
    IAsyncEnumerable<StateEvent> ReadEventsAsync(CancellationToken cancellationToken = default);
}
