using Orchestration.TestKit.Conformance;

namespace Orchestration.State.Sqlite.Tests;

/// <summary>The SQLite store runs the whole state store contract, on a real database file.</summary>
[Trait("Category", "Integration")]
public sealed class SqliteStateStoreConformanceTests : StateStoreConformanceTests
{
    private readonly string _root = Directory.CreateTempSubdirectory("orch-sqlite-").FullName;
    private int _opened;

    protected override Task<IStateStore> OpenStoreAsync(StateStoreOptions options)
    {
        var sqlite = new SqliteStateStoreOptions
        {
            DataDirectory = Path.Combine(_root, $"store{Interlocked.Increment(ref _opened)}"),
            MaxKeyBytes = options.MaxKeyBytes,
            MaxValueBytes = options.MaxValueBytes,
            MaxWatchLag = options.MaxWatchLag,
            LeaseCheckInterval = options.LeaseCheckInterval,
            CompactionInterval = options.CompactionInterval,
        };
        return Task.FromResult<IStateStore>(new SqliteStateStore(sqlite, Clock));
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }
}
