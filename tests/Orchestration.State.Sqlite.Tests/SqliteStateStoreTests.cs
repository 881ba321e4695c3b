using System.Text;
using Microsoft.Data.Sqlite;

namespace Orchestration.State.Sqlite.Tests;

/// <summary>What only a durable store must do: come back whole, and refuse unusable files without harming them.</summary>
[Trait("Category", "Integration")]
public sealed class SqliteStateStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("orch-sqlite-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private SqliteStateStoreOptions Options(string name = "data") => new() { DataDirectory = Path.Combine(_root, name), CompactionInterval = null };

    private static ReadOnlyMemory<byte> V(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Reopening_the_data_directory_restores_keys_history_revision_leases_and_compaction()
    {
        long compactedAt, updatedAt, revision;
        long leaseId;
        await using (var store = new SqliteStateStore(Options()))
        {
            var a = await store.CreateAsync("/a", V("1"));
            var b = await store.CreateAsync("/b", V("doomed"));
            await store.DeleteAsync("/b", b.Revision);
            compactedAt = (await store.UpdateAsync("/a", V("2"), a.Revision)).Revision;
            await store.CompactAsync(compactedAt);
            updatedAt = (await store.UpdateAsync("/a", V("3"), compactedAt)).Revision;
            var lease = await store.GrantLeaseAsync(TimeSpan.FromMinutes(5));
            leaseId = lease.Id;
            await store.CreateAsync("/leased", V("x"), lease.Id);
            revision = (await store.GetStatusAsync()).Revision;
        }

        await using var reopened = new SqliteStateStore(Options());
        var status = await reopened.GetStatusAsync();
        status.Revision.Should().Be(revision);
        status.CompactRevision.Should().Be(compactedAt);
        var current = await reopened.GetAsync("/a");
        Encoding.UTF8.GetString(current!.Value.Span).Should().Be("3");
        current.Version.Should().Be(3);
        Encoding.UTF8.GetString((await reopened.GetAsync("/a", compactedAt))!.Value.Span).Should().Be("2");
        (await reopened.GetAsync("/b")).Should().BeNull();
        await reopened.Invoking(s => s.GetAsync("/a", compactedAt - 1).AsTask()).Should().ThrowAsync<CompactedException>();

        await using var watch = await reopened.WatchAsync(new WatchRequest { Key = "/", Prefix = true, AfterRevision = compactedAt });
        var replay = new List<StateEvent>();
        await foreach (var evt in watch.ReadEventsAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token))
        {
            replay.Add(evt);
            if (replay.Count == 2)
            {
                break;
            }
        }

        replay.Select(e => e.Revision).Should().Equal(updatedAt, revision);
        Encoding.UTF8.GetString(replay[0].PrevKv!.Value.Span).Should().Be("2");

        (await reopened.KeepAliveLeaseAsync(leaseId)).Should().Be(TimeSpan.FromMinutes(5));
        await reopened.RevokeLeaseAsync(leaseId);
        (await reopened.GetAsync("/leased")).Should().BeNull();
    }

    [Fact]
    public async Task A_data_directory_that_cannot_be_created_is_a_clear_error()
    {
        // Root can write anywhere, so "not writable" is made the way it is for root too: a file
        // stands where a directory must be created.
        var blocker = Path.Combine(_root, "a-file");
        await File.WriteAllTextAsync(blocker, "not a directory");

        var open = () => new SqliteStateStore(new SqliteStateStoreOptions { DataDirectory = Path.Combine(blocker, "data") });

        open.Should().Throw<StoreUnavailableException>().WithMessage("*cannot create the data directory*");
        (await File.ReadAllTextAsync(blocker)).Should().Be("not a directory");
    }

    [Fact]
    public async Task A_database_file_that_is_not_sqlite_is_refused_and_left_untouched()
    {
        var options = Options();
        Directory.CreateDirectory(options.DataDirectory);
        var garbage = Enumerable.Range(0, 8192).Select(i => (byte)(i * 31 % 251)).ToArray();
        await File.WriteAllBytesAsync(options.DatabasePath, garbage);

        var open = () => new SqliteStateStore(options);

        open.Should().Throw<StoreCorruptException>().WithMessage("*is not a readable state store database*");
        (await File.ReadAllBytesAsync(options.DatabasePath)).Should().Equal(garbage);
    }

    [Fact]
    public async Task A_sqlite_file_of_another_application_is_refused_and_left_untouched()
    {
        var options = Options();
        Directory.CreateDirectory(options.DataDirectory);
        await using (var connection = new SqliteConnection($"Data Source={options.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('kept')";
            command.ExecuteNonQuery();
        }

        var open = () => new SqliteStateStore(options);

        open.Should().Throw<StoreCorruptException>().WithMessage("*not a state store*customers*");
        await using var check = new SqliteConnection($"Data Source={options.DatabasePath};Pooling=False");
        check.Open();
        using var read = check.CreateCommand();
        read.CommandText = "SELECT name FROM customers";
        read.ExecuteScalar().Should().Be("kept");
    }

    [Fact]
    public async Task Many_concurrent_writers_are_all_acknowledged_and_durable()
    {
        const int writers = 64;
        await using (var store = new SqliteStateStore(Options()))
        {
            await Task.WhenAll(Enumerable.Range(0, writers).Select(async w =>
            {
                for (var i = 0; i < 20; i++)
                {
                    (await store.CreateAsync($"/g/{w}/{i}", V("x"))).Succeeded.Should().BeTrue();
                }
            }));
        }

        await using var reopened = new SqliteStateStore(Options());
        (await reopened.RangeAsync(new RangeRequest { Prefix = "/g/" })).Items.Should().HaveCount(writers * 20);
        (await reopened.GetStatusAsync()).Revision.Should().Be(writers * 20);
    }
}
