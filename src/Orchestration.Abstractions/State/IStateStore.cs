namespace Orchestration.State;

/// <summary>
/// The etcd role: a revisioned key/value store with compare-and-swap, watches from a revision,
/// compaction and leases. Composed of small parts so a component can depend on only what it uses.
/// </summary>
/// <remarks>
/// The model is etcd's. One global revision counts every write. Each key carries the revision
/// that created it, the revision that last wrote it and how many times it was written. Operations
/// on a disposed store throw <see cref="StoreClosedException"/>.
/// </remarks>
public interface IStateStore : IStateReader, IStateWriter, IStateWatcher, IStateCompactor, IStateLeases, IAsyncDisposable
{
}
