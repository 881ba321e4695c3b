using Microsoft.Data.Sqlite;

namespace Orchestration.State.Sqlite;

/// <summary>
/// The SQLite journal: table <c>kv</c> holds one row per change, keyed by revision; <c>leases</c>
/// the live leases; <c>meta</c> the schema version and the compaction point.
/// </summary>
internal sealed class SqliteJournal : IStateJournal
{
    private const int SchemaVersion = 1;

    // SQLite result codes that mean "this is not a file we can use".
    private const int SqliteCorrupt = 11;
    private const int SqliteNotADatabase = 26;
    private const int SqliteReadOnly = 8;
    private const int SqliteCantOpen = 14;
    private const int SqliteIoError = 10;
    private const int SqliteFull = 13;

    private readonly SqliteConnection _connection;
    private readonly string _path;
    private readonly SqliteCommand _insertKv;
    private readonly SqliteCommand _insertLease;
    private readonly SqliteCommand _deleteLease;

    private SqliteJournal(SqliteConnection connection, string path)
    {
        _connection = connection;
        _path = path;
        _insertKv = Prepare("INSERT INTO kv (revision, key, deleted, create_revision, version, lease, value) VALUES ($revision, $key, $deleted, $create, $version, $lease, $value)",
            "$revision", "$key", "$deleted", "$create", "$version", "$lease", "$value");
        _insertLease = Prepare("INSERT OR REPLACE INTO leases (id, ttl_ms) VALUES ($id, $ttl)", "$id", "$ttl");
        _deleteLease = Prepare("DELETE FROM leases WHERE id = $id", "$id");
    }

    public static SqliteJournal Open(SqliteStateStoreOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            throw new InvalidStateRequestException(nameof(options.DataDirectory), "the SQLite store needs a data directory.");
        }

        var path = options.DatabasePath;
        try
        {
            Directory.CreateDirectory(options.DataDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException($"cannot create the data directory '{options.DataDirectory}': {ex.Message}", ex);
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        try
        {
            connection.Open();
            InitializeSchema(connection, path);
            return new SqliteJournal(connection, path);
        }
        catch (Exception ex)
        {
            connection.Dispose();
            throw Translate(ex, path, "open");
        }
    }

    public JournalContents Load()
    {
        try
        {
            var compact = ReadMeta("compact_revision");
            var changes = new List<JournalEntry>();
            using (var select = _connection.CreateCommand())
            {
                select.CommandText = "SELECT revision, key, deleted, create_revision, version, lease, value FROM kv ORDER BY revision";
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    var revision = reader.GetInt64(0);
                    var key = reader.GetString(1);
                    if (reader.GetInt64(2) != 0)
                    {
                        changes.Add(new JournalDelete(key, revision));
                        continue;
                    }

                    changes.Add(new JournalPut(new StateKeyValue
                    {
                        Key = key,
                        ModRevision = revision,
                        CreateRevision = reader.GetInt64(3),
                        Version = reader.GetInt64(4),
                        Lease = reader.GetInt64(5),
                        Value = reader.IsDBNull(6) ? Array.Empty<byte>() : (byte[])reader.GetValue(6),
                    }));
                }
            }

            var leases = new List<StateLease>();
            using (var select = _connection.CreateCommand())
            {
                select.CommandText = "SELECT id, ttl_ms FROM leases";
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    leases.Add(new StateLease(reader.GetInt64(0), TimeSpan.FromMilliseconds(reader.GetInt64(1))));
                }
            }

            return new JournalContents(compact, changes, leases);
        }
        catch (Exception ex) when (ex is not StateStoreException)
        {
            throw Translate(ex, _path, "read");
        }
    }

    public void Append(IReadOnlyList<JournalEntry> entries)
    {
        try
        {
            using var transaction = _connection.BeginTransaction();
            foreach (var entry in entries)
            {
                switch (entry)
                {
                    case JournalPut put:
                        InsertKv(transaction, put.Kv.ModRevision, put.Kv.Key, false, put.Kv.CreateRevision, put.Kv.Version, put.Kv.Lease, put.Kv.Value);
                        break;
                    case JournalDelete delete:
                        InsertKv(transaction, delete.Revision, delete.Key, true, 0, 0, 0, ReadOnlyMemory<byte>.Empty);
                        break;
                    case JournalLeaseGrant grant:
                        Run(_insertLease, transaction, grant.LeaseId, (long)grant.Ttl.TotalMilliseconds);
                        break;
                    case JournalLeaseRevoke revoke:
                        Run(_deleteLease, transaction, revoke.LeaseId);
                        break;
                    case JournalCompact compact:
                        Compact(transaction, compact.Revision);
                        break;
                    default:
                        throw new InvalidOperationException($"unknown journal entry {entry.GetType().Name}.");
                }
            }

            transaction.Commit();
        }
        catch (Exception ex) when (ex is SqliteException)
        {
            throw Translate(ex, _path, "write");
        }
    }

    public void Dispose()
    {
        _insertKv.Dispose();
        _insertLease.Dispose();
        _deleteLease.Dispose();
        _connection.Dispose();
    }

    private void InsertKv(SqliteTransaction transaction, long revision, string key, bool deleted, long createRevision, long version, long lease, ReadOnlyMemory<byte> value)
    {
        var parameters = _insertKv.Parameters;
        _insertKv.Transaction = transaction;
        parameters[0].Value = revision;
        parameters[1].Value = key;
        parameters[2].Value = deleted ? 1 : 0;
        parameters[3].Value = createRevision;
        parameters[4].Value = version;
        parameters[5].Value = lease;
        parameters[6].Value = deleted ? DBNull.Value : value.ToArray();
        _insertKv.ExecuteNonQuery();
    }

    private void Compact(SqliteTransaction transaction, long revision)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;

        // Keep the newest version at or before the compaction point of each key that still
        // exists there; drop everything older, and tombstones at or before the point.
        command.CommandText = """
            DELETE FROM kv WHERE revision <= $rev AND (deleted = 1 OR revision <
              (SELECT MAX(k.revision) FROM kv AS k WHERE k.key = kv.key AND k.revision <= $rev));
            INSERT OR REPLACE INTO meta (name, value) VALUES ('compact_revision', $rev);
            """;
        command.Parameters.AddWithValue("$rev", revision);
        command.ExecuteNonQuery();
    }

    private static void Run(SqliteCommand command, SqliteTransaction transaction, params long[] values)
    {
        command.Transaction = transaction;
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i];
        }

        command.ExecuteNonQuery();
    }

    private long ReadMeta(string name)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE name = $name";
        command.Parameters.AddWithValue("$name", name);
        return command.ExecuteScalar() is long value ? value : 0;
    }

    private SqliteCommand Prepare(string sql, params string[] parameterNames)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameterNames)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    private static void InitializeSchema(SqliteConnection connection, string path)
    {
        using var command = connection.CreateCommand();

        // A table list that is not ours, in a valid SQLite file, is refused rather than written into.
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name";
        var tables = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        if (tables.Count > 0)
        {
            if (!tables.Contains("meta") || !tables.Contains("kv"))
            {
                throw new StoreCorruptException($"'{path}' is a SQLite database, but not a state store (tables: {string.Join(", ", tables)}); it was left untouched. Point the store at another data directory.");
            }

            command.CommandText = "SELECT value FROM meta WHERE name = 'schema'";
            var version = command.ExecuteScalar();
            if (version is not long found || found != SchemaVersion)
            {
                throw new StoreCorruptException($"'{path}' has state store schema {version ?? "(none)"}; this version reads schema {SchemaVersion}. It was left untouched.");
            }
        }

        command.CommandText = $"""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            CREATE TABLE IF NOT EXISTS kv (
              revision INTEGER PRIMARY KEY,
              key TEXT NOT NULL,
              deleted INTEGER NOT NULL,
              create_revision INTEGER NOT NULL,
              version INTEGER NOT NULL,
              lease INTEGER NOT NULL,
              value BLOB);
            CREATE INDEX IF NOT EXISTS kv_key_revision ON kv (key, revision);
            CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY, ttl_ms INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', {SchemaVersion});
            """;
        command.ExecuteNonQuery();
    }

    private static Exception Translate(Exception error, string path, string action)
    {
        if (error is StateStoreException)
        {
            return error;
        }

        if (error is SqliteException sqlite)
        {
            switch (sqlite.SqliteErrorCode)
            {
                case SqliteCorrupt or SqliteNotADatabase:
                    return new StoreCorruptException($"'{path}' is not a readable state store database ({sqlite.Message.TrimEnd('.')}); it was left untouched. Restore it from a backup or point the store at another data directory.", error);
                case SqliteReadOnly or SqliteCantOpen:
                    return new StoreUnavailableException($"cannot {action} '{path}': the file or its directory is not writable ({sqlite.Message.TrimEnd('.')}).", error);
                case SqliteIoError or SqliteFull:
                    return new StoreUnavailableException($"cannot {action} '{path}': a disk error ({sqlite.Message.TrimEnd('.')}).", error);
            }
        }

        return new StoreUnavailableException($"cannot {action} '{path}': {error.Message}", error);
    }
}
