using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Orchestration.State.Sqlite;

/// <summary>
/// The embedded, durable state store: the single-master default. Every change is a row of a
/// SQLite table whose key is the revision; a write is acknowledged only after its transaction is
/// synced to disk (WAL, synchronous=FULL), with concurrent writers sharing one sync (group
/// commit). Opening the same data directory again restores everything.
/// </summary>
/// <remarks>The live keyspace is served from memory (see <see cref="MvccStateStore"/>); SQLite is its journal.</remarks>
public sealed class SqliteStateStore : MvccStateStore
{
    /// <summary>Opens (or creates) the store in <see cref="SqliteStateStoreOptions.DataDirectory"/>.</summary>
    /// <exception cref="StoreUnavailableException">The directory cannot be created or written.</exception>
    /// <exception cref="StoreCorruptException">The file there is not a state store database.</exception>
    public SqliteStateStore(SqliteStateStoreOptions options, TimeProvider? timeProvider = null, ILogger<SqliteStateStore>? logger = null)
        : base(options, SqliteJournal.Open(options), timeProvider, logger)
    {
    }

    /// <summary>Opens the store from configured options.</summary>
    public SqliteStateStore(IOptions<SqliteStateStoreOptions> options, TimeProvider timeProvider, ILogger<SqliteStateStore> logger)
        : this(options.Value, timeProvider, logger)
    {
    }
}
