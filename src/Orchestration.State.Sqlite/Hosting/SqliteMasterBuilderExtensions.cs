using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orchestration.Hosting;

namespace Orchestration.State.Sqlite.Hosting;

/// <summary>Chooses the embedded SQLite store for a master.</summary>
public static class SqliteMasterBuilderExtensions
{
    /// <summary>
    /// Keeps the cluster's state in a SQLite database under <paramref name="dataDirectory"/>: durable
    /// across restarts, for a single master (k3s's default). The store is closed when the host's
    /// container is disposed, after every service has stopped.
    /// </summary>
    public static IMasterBuilder UseSqliteStateStore(this IMasterBuilder builder, string dataDirectory, Action<SqliteStateStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<SqliteStateStoreOptions>()
            .Configure(o =>
            {
                o.DataDirectory = dataDirectory;
                configure?.Invoke(o);
            })
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDirectory), "SqliteStateStoreOptions.DataDirectory is required: the directory that holds the database")
            .Validate(o => !string.IsNullOrWhiteSpace(o.FileName) && o.FileName.IndexOfAny(['/', '\\']) < 0, "SqliteStateStoreOptions.FileName must be a file name without a directory")
            .ValidateOnStart();
        builder.Services.TryAddSingleton<SqliteStateStore>();
        builder.Services.Replace(ServiceDescriptor.Singleton<IStateStore>(sp => sp.GetRequiredService<SqliteStateStore>()));
        return builder;
    }
}
