namespace Orchestration.State.Sqlite;

/// <summary>Where and how the SQLite store keeps its file.</summary>
public sealed class SqliteStateStoreOptions : StateStoreOptions
{
    /// <summary>The data directory; created when missing.</summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>The database file's name inside <see cref="DataDirectory"/>.</summary>
    public string FileName { get; set; } = "state.db";

    /// <summary>The database file's full path.</summary>
    public string DatabasePath => Path.Combine(DataDirectory, FileName);
}
