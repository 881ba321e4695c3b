namespace Orchestration.State;

/// <summary>Opens watches on a revisioned key/value store.</summary>
public interface IStateWatcher
{
    /// <summary>Opens a watch. The starting revision is checked here, before any event is read.</summary>
    /// <exception cref="CompactedException">The starting revision is older than the compaction point.</exception>
    /// <exception cref="FutureRevisionException">The starting revision has not happened yet.</exception>
    ValueTask<IStateWatch> WatchAsync(WatchRequest request, CancellationToken cancellationToken = default);
}
