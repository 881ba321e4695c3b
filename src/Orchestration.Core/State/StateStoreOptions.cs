namespace Orchestration.State;

/// <summary>Limits and timings shared by the stores built on <see cref="MvccStateStore"/>.</summary>
public class StateStoreOptions
{
    /// <summary>The longest key, in UTF-8 bytes.</summary>
    public int MaxKeyBytes { get; set; } = 4096;

    /// <summary>The largest value, in bytes; etcd's default request limit is 1.5 MiB.</summary>
    public int MaxValueBytes { get; set; } = 1536 * 1024;

    /// <summary>
    /// How many revisions a watcher may lag behind the store before it is told it fell behind.
    /// Bounds the history a stuck watcher can pin in memory.
    /// </summary>
    public long MaxWatchLag { get; set; } = 100_000;

    /// <summary>How often leases are checked for expiry.</summary>
    public TimeSpan LeaseCheckInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How often history is compacted in the background: each run compacts to the revision the
    /// previous run saw, so at least this much history stays readable (the API server's default is
    /// five minutes). Null turns background compaction off.
    /// </summary>
    public TimeSpan? CompactionInterval { get; set; } = TimeSpan.FromMinutes(5);
}
