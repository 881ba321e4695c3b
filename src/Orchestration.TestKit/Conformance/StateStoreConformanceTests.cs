using System.Text;
using FluentAssertions;
using Microsoft.Extensions.Time.Testing;
using Orchestration.State;
using Xunit;

namespace Orchestration.TestKit.Conformance;

/// <summary>
/// The contract of <see cref="IStateStore"/>, run against every implementation: subclass it and
/// say how to open a store. Keys live under a prefix of their own, so a store shared by several
/// tests (a real etcd) still gives each test a clean keyspace. Revisions are compared relative to
/// what each test saw, never as absolute numbers.
/// </summary>
public abstract partial class StateStoreConformanceTests : IAsyncLifetime
{
    private readonly List<IStateStore> _stores = [];

    /// <summary>The prefix under which this test's keys live.</summary>
    protected string Prefix { get; } = $"/conformance/{Guid.NewGuid():N}/";

    /// <summary>The fake clock that stores which support one are opened with.</summary>
    protected FakeTimeProvider Clock { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>Whether the store runs on <see cref="Clock"/>; a store on real time (etcd) says false.</summary>
    protected virtual bool UsesFakeClock => true;

    /// <summary>Opens a store with these options; on a fake-clock store, with <see cref="Clock"/>.</summary>
    protected abstract Task<IStateStore> OpenStoreAsync(StateStoreOptions options);

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    /// <summary>Opens a store that is disposed after the test.</summary>
    protected async Task<IStateStore> NewStoreAsync(Action<StateStoreOptions>? configure = null)
    {
        var options = new StateStoreOptions { CompactionInterval = null };
        configure?.Invoke(options);
        var store = await OpenStoreAsync(options);
        _stores.Add(store);
        return store;
    }

    /// <summary>A key of this test.</summary>
    protected string K(string name) => Prefix + name;

    /// <summary>UTF-8 bytes of a string.</summary>
    protected static ReadOnlyMemory<byte> V(string value) => Encoding.UTF8.GetBytes(value);

    /// <summary>A stored value as a string.</summary>
    protected static string Text(StateKeyValue? kv) => kv is null ? "<absent>" : Encoding.UTF8.GetString(kv.Value.Span);

    /// <summary>Reads <paramref name="count"/> events from a watch, or fails after the timeout.</summary>
    protected static async Task<List<StateEvent>> CollectAsync(IStateWatch watch, int count, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        var events = new List<StateEvent>();
        try
        {
            await foreach (var evt in watch.ReadEventsAsync(cts.Token))
            {
                events.Add(evt);
                if (events.Count == count)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the watch delivered {events.Count} of {count} events in time: {string.Join(", ", events.Select(e => $"{e.Type} {e.Kv.Key}@{e.Revision}"))}");
        }

        return events;
    }

    /// <summary>Asserts that no event arrives within a short while.</summary>
    protected static async Task ExpectNoEventAsync(IStateWatch watch, TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        try
        {
            await foreach (var evt in watch.ReadEventsAsync(cts.Token))
            {
                throw new Xunit.Sdk.XunitException($"expected no event, got {evt.Type} {evt.Kv.Key}@{evt.Revision}");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [Fact]
    public async Task Every_write_takes_the_next_revision_and_keys_track_create_mod_and_version()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateAsync(K("a"), V("1"));
        var updated = await store.UpdateAsync(K("a"), V("2"), created.Revision);
        var other = await store.CreateAsync(K("b"), V("x"));
        var deleted = await store.DeleteAsync(K("b"));

        created.Succeeded.Should().BeTrue();
        updated.Revision.Should().Be(created.Revision + 1);
        other.Revision.Should().Be(created.Revision + 2);
        deleted.Revision.Should().Be(created.Revision + 3);

        var a = await store.GetAsync(K("a"));
        a!.CreateRevision.Should().Be(created.Revision);
        a.ModRevision.Should().Be(updated.Revision);
        a.Version.Should().Be(2);
        Text(a).Should().Be("2");
        updated.Previous!.ModRevision.Should().Be(created.Revision);
        deleted.Previous!.Key.Should().Be(K("b"));
        (await store.GetAsync(K("b"))).Should().BeNull();
        (await store.GetStatusAsync()).Revision.Should().BeGreaterThanOrEqualTo(deleted.Revision);
    }

    [Fact]
    public async Task A_recreated_key_starts_a_new_life()
    {
        var store = await NewStoreAsync();
        await store.CreateAsync(K("a"), V("1"));
        await store.DeleteAsync(K("a"));
        var again = await store.CreateAsync(K("a"), V("2"));

        var a = await store.GetAsync(K("a"));
        a!.CreateRevision.Should().Be(again.Revision);
        a.Version.Should().Be(1);
    }

    [Fact]
    public async Task Create_of_an_existing_key_is_a_conflict_that_carries_the_current_value()
    {
        var store = await NewStoreAsync();
        var first = await store.CreateAsync(K("a"), V("first"));
        var second = await store.CreateAsync(K("a"), V("second"));

        second.Succeeded.Should().BeFalse();
        second.Current!.ModRevision.Should().Be(first.Revision);
        Text(second.Current).Should().Be("first");
        Text(await store.GetAsync(K("a"))).Should().Be("first");
    }

    [Fact]
    public async Task Update_with_a_stale_mod_revision_is_a_conflict_and_changes_nothing()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateAsync(K("a"), V("1"));
        var winner = await store.UpdateAsync(K("a"), V("2"), created.Revision);
        var loser = await store.UpdateAsync(K("a"), V("3"), created.Revision);

        winner.Succeeded.Should().BeTrue();
        loser.Succeeded.Should().BeFalse();
        loser.Current!.ModRevision.Should().Be(winner.Revision);
        Text(loser.Current).Should().Be("2");
        Text(await store.GetAsync(K("a"))).Should().Be("2");
    }

    [Fact]
    public async Task Update_and_delete_of_a_missing_key_are_conflicts_with_no_current_value()
    {
        var store = await NewStoreAsync();
        var update = await store.UpdateAsync(K("missing"), V("x"), 1);
        var delete = await store.DeleteAsync(K("missing"));

        update.Succeeded.Should().BeFalse();
        update.Current.Should().BeNull();
        delete.Succeeded.Should().BeFalse();
        delete.Current.Should().BeNull();
        (await store.GetAsync(K("missing"))).Should().BeNull();
    }

    [Fact]
    public async Task Delete_with_a_stale_precondition_is_a_conflict_and_with_the_right_one_succeeds()
    {
        var store = await NewStoreAsync();
        var created = await store.CreateAsync(K("a"), V("1"));
        var updated = await store.UpdateAsync(K("a"), V("2"), created.Revision);

        var stale = await store.DeleteAsync(K("a"), created.Revision);
        stale.Succeeded.Should().BeFalse();
        stale.Current!.ModRevision.Should().Be(updated.Revision);

        var deleted = await store.DeleteAsync(K("a"), updated.Revision);
        deleted.Succeeded.Should().BeTrue();
        Text(deleted.Previous).Should().Be("2");
        (await store.GetAsync(K("a"))).Should().BeNull();
    }

    [Fact]
    public async Task A_read_at_an_old_revision_sees_the_store_as_it_was()
    {
        var store = await NewStoreAsync();
        var v1 = await store.CreateAsync(K("a"), V("1"));
        var v2 = await store.UpdateAsync(K("a"), V("2"), v1.Revision);
        var gone = await store.DeleteAsync(K("a"));

        Text(await store.GetAsync(K("a"), v1.Revision)).Should().Be("1");
        Text(await store.GetAsync(K("a"), v2.Revision)).Should().Be("2");
        (await store.GetAsync(K("a"), gone.Revision)).Should().BeNull();
        (await store.GetAsync(K("a"), v1.Revision - 1)).Should().BeNull();
    }

    [Fact]
    public async Task Range_returns_the_prefix_in_key_order_and_nothing_outside_it()
    {
        var store = await NewStoreAsync();
        foreach (var name in new[] { "p/c", "p/a", "p/b", "q/a", "pz" })
        {
            await store.CreateAsync(K(name), V(name));
        }

        var result = await store.RangeAsync(new RangeRequest { Prefix = K("p/") });

        result.Items.Select(kv => kv.Key).Should().Equal(K("p/a"), K("p/b"), K("p/c"));
        result.HasMore.Should().BeFalse();
    }

    [Fact]
    public async Task Paging_through_a_range_at_its_first_revision_is_one_consistent_snapshot()
    {
        var store = await NewStoreAsync();
        for (var i = 0; i < 10; i++)
        {
            await store.CreateAsync(K($"items/{i:D2}"), V($"v{i}"));
        }

        var first = await store.RangeAsync(new RangeRequest { Prefix = K("items/"), Limit = 4 });

        // The keyspace changes between pages: a later page must not show any of it.
        await store.DeleteAsync(K("items/05"));
        await store.CreateAsync(K("items/05a"), V("new"));
        var nine = await store.GetAsync(K("items/09"));
        await store.UpdateAsync(K("items/09"), V("changed"), nine!.ModRevision);

        var seen = first.Items.ToList();
        var page = first;
        while (page.HasMore)
        {
            page = await store.RangeAsync(new RangeRequest { Prefix = K("items/"), Limit = 4, Revision = first.Revision, StartAfter = seen[^1].Key });
            page.Revision.Should().Be(first.Revision);
            seen.AddRange(page.Items);
        }

        seen.Select(kv => kv.Key).Should().Equal(Enumerable.Range(0, 10).Select(i => K($"items/{i:D2}")));
        seen.Select(Text).Should().Equal(Enumerable.Range(0, 10).Select(i => $"v{i}"));
        first.Items.Should().HaveCount(4);
        first.HasMore.Should().BeTrue();

        var now = await store.RangeAsync(new RangeRequest { Prefix = K("items/") });
        now.Items.Select(kv => kv.Key).Should().Contain(K("items/05a")).And.NotContain(K("items/05"));
    }

    [Fact]
    public async Task Reads_at_a_revision_in_the_future_are_refused()
    {
        var store = await NewStoreAsync();
        var write = await store.CreateAsync(K("a"), V("1"));
        var future = (await store.GetStatusAsync()).Revision + 1000;

        await store.Invoking(s => s.GetAsync(K("a"), future).AsTask()).Should().ThrowAsync<FutureRevisionException>();
        await store.Invoking(s => s.RangeAsync(new RangeRequest { Prefix = Prefix, Revision = future }).AsTask()).Should().ThrowAsync<FutureRevisionException>();
        await store.Invoking(s => s.WatchAsync(new WatchRequest { Key = Prefix, Prefix = true, AfterRevision = future }).AsTask()).Should().ThrowAsync<FutureRevisionException>();
        Text(await store.GetAsync(K("a"), write.Revision)).Should().Be("1");
    }

    [Fact]
    public async Task A_watch_from_an_old_revision_replays_every_change_in_order_with_previous_values()
    {
        var store = await NewStoreAsync();
        var start = await store.CreateAsync(K("w/a"), V("a1"));
        var update = await store.UpdateAsync(K("w/a"), V("a2"), start.Revision);
        await store.CreateAsync(K("other"), V("not watched"));
        var b = await store.CreateAsync(K("w/b"), V("b1"));
        var delete = await store.DeleteAsync(K("w/a"));

        await using var watch = await store.WatchAsync(new WatchRequest { Key = K("w/"), Prefix = true, AfterRevision = start.Revision - 1 });
        var events = await CollectAsync(watch, 4);

        events.Select(e => (e.Type, e.Kv.Key, e.Revision)).Should().Equal(
            (StateEventType.Put, K("w/a"), start.Revision),
            (StateEventType.Put, K("w/a"), update.Revision),
            (StateEventType.Put, K("w/b"), b.Revision),
            (StateEventType.Delete, K("w/a"), delete.Revision));
        events[0].PrevKv.Should().BeNull();
        Text(events[1].PrevKv).Should().Be("a1");
        Text(events[3].PrevKv).Should().Be("a2");
        events[3].PrevKv!.ModRevision.Should().Be(update.Revision);
    }

    [Fact]
    public async Task A_watch_on_one_key_sees_only_that_key()
    {
        var store = await NewStoreAsync();
        await using var watch = await store.WatchAsync(new WatchRequest { Key = K("exact") });
        await store.CreateAsync(K("exact-not"), V("x"));
        var write = await store.CreateAsync(K("exact"), V("y"));

        var events = await CollectAsync(watch, 1);

        events.Single().Kv.Key.Should().Be(K("exact"));
        events.Single().Revision.Should().Be(write.Revision);
    }

    [Fact]
    public async Task A_watch_without_a_revision_sees_only_changes_made_after_it_opened()
    {
        var store = await NewStoreAsync();
        await store.CreateAsync(K("n/before"), V("old"));
        await using var watch = await store.WatchAsync(new WatchRequest { Key = K("n/"), Prefix = true });
        var after = await store.CreateAsync(K("n/after"), V("new"));

        var events = await CollectAsync(watch, 1);

        events.Single().Kv.Key.Should().Be(K("n/after"));
        events.Single().Revision.Should().Be(after.Revision);
        watch.AfterRevision.Should().BeLessThan(after.Revision);
    }

    [Fact]
    public async Task Watches_under_concurrent_writers_lose_and_repeat_nothing()
    {
        const int writers = 4;
        const int writesPerWriter = 60;
        var store = await NewStoreAsync();
        var startAt = (await store.GetStatusAsync()).Revision;
        await using var early = await store.WatchAsync(new WatchRequest { Key = K("c/"), Prefix = true, AfterRevision = startAt });
        var earlyRead = CollectAsync(early, writers * writesPerWriter * 2);

        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<long>();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < writesPerWriter; i++)
            {
                var key = K($"c/{w}/{i}");
                var created = await store.CreateAsync(key, V("1"));
                acknowledged.Add(created.Revision);
                var updated = await store.UpdateAsync(key, V("2"), created.Revision);
                updated.Succeeded.Should().BeTrue();
                acknowledged.Add(updated.Revision);
            }
        })));

        // A second watch opened after the writes replays the same history from the same point.
        await using var late = await store.WatchAsync(new WatchRequest { Key = K("c/"), Prefix = true, AfterRevision = startAt });
        var lateEvents = await CollectAsync(late, writers * writesPerWriter * 2);
        var earlyEvents = await earlyRead;

        foreach (var events in new[] { earlyEvents, lateEvents })
        {
            events.Select(e => e.Revision).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
            events.Select(e => e.Revision).Should().BeEquivalentTo(acknowledged);
        }

        lateEvents.Select(e => (e.Kv.Key, e.Revision)).Should().Equal(earlyEvents.Select(e => (e.Kv.Key, e.Revision)));
        await ExpectNoEventAsync(early, TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task After_compaction_old_revisions_are_refused_and_the_newest_values_stay()
    {
        var store = await NewStoreAsync();
        var v1 = await store.CreateAsync(K("a"), V("1"));
        var v2 = await store.UpdateAsync(K("a"), V("2"), v1.Revision);
        await store.CreateAsync(K("gone"), V("x"));
        var deleted = await store.DeleteAsync(K("gone"));
        var v3 = await store.UpdateAsync(K("a"), V("3"), v2.Revision);

        await store.CompactAsync(deleted.Revision);

        var compacted = await store.Invoking(s => s.GetAsync(K("a"), v1.Revision).AsTask()).Should().ThrowAsync<CompactedException>();
        compacted.Which.CompactRevision.Should().Be(deleted.Revision);
        await store.Invoking(s => s.RangeAsync(new RangeRequest { Prefix = Prefix, Revision = v2.Revision }).AsTask()).Should().ThrowAsync<CompactedException>();
        await store.Invoking(s => s.WatchAsync(new WatchRequest { Key = Prefix, Prefix = true, AfterRevision = v1.Revision }).AsTask()).Should().ThrowAsync<CompactedException>();

        Text(await store.GetAsync(K("a"), deleted.Revision)).Should().Be("2");
        Text(await store.GetAsync(K("a"))).Should().Be("3");
        (await store.GetAsync(K("gone"))).Should().BeNull();
        (await store.GetStatusAsync()).CompactRevision.Should().BeGreaterThanOrEqualTo(deleted.Revision);

        await using var watch = await store.WatchAsync(new WatchRequest { Key = Prefix, Prefix = true, AfterRevision = deleted.Revision });
        (await CollectAsync(watch, 1)).Single().Revision.Should().Be(v3.Revision);

        var future = (await store.GetStatusAsync()).Revision + 100;
        await store.Invoking(s => s.CompactAsync(future).AsTask()).Should().ThrowAsync<FutureRevisionException>();
    }

    [Fact]
    public async Task A_slow_watcher_is_told_it_fell_behind_while_writers_and_other_watchers_go_on()
    {
        const int lag = 200;
        var store = await NewStoreAsync(o => o.MaxWatchLag = lag);
        await using var slow = await store.WatchAsync(new WatchRequest { Key = K("s/"), Prefix = true });
        await using var fast = await store.WatchAsync(new WatchRequest { Key = K("s/"), Prefix = true });
        var total = lag * 6;
        var fastCount = 0;
        var fastRead = Task.Run(async () =>
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var events = new List<StateEvent>();
            await foreach (var evt in fast.ReadEventsAsync(timeout.Token))
            {
                events.Add(evt);
                Volatile.Write(ref fastCount, events.Count);
                if (events.Count == total)
                {
                    break;
                }
            }

            return events;
        });

        // Writers go in rounds of half the allowed lag and wait only for the watcher that reads,
        // so a starved reader thread on a busy machine cannot make the fast watcher fall behind.
        var writes = Task.Run(async () =>
        {
            for (var round = 0; round < total; round += lag / 2)
            {
                await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
                {
                    for (var i = round + w; i < Math.Min(total, round + (lag / 2)); i += 8)
                    {
                        (await store.CreateAsync(K($"s/{i:D5}"), V("x"))).Succeeded.Should().BeTrue();
                    }
                })));
                var until = DateTime.UtcNow.AddSeconds(30);
                while (Volatile.Read(ref fastCount) < Math.Min(total, round + (lag / 2)) && DateTime.UtcNow < until)
                {
                    await Task.Delay(1);
                }
            }
        });
        (await Task.WhenAny(writes, Task.Delay(TimeSpan.FromSeconds(60)))).Should().BeSameAs(writes, "writers must not wait for a watcher that does not read");
        await writes;

        (await fastRead).Should().HaveCount(total);
        var read = async () =>
        {
            await foreach (var _ in slow.ReadEventsAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
            {
            }
        };
        await read.Should().ThrowAsync<WatchFellBehindException>();
    }

    [Fact]
    public async Task Bad_requests_get_specific_errors_and_change_nothing()
    {
        var store = await NewStoreAsync(o => o.MaxValueBytes = 1024);
        var kept = await store.CreateAsync(K("kept"), V("safe"));
        var before = (await store.GetStatusAsync()).Revision;

        var cases = new (string Name, Func<Task> Call, string Parameter)[]
        {
            ("empty key", () => store.CreateAsync("", V("x")).AsTask(), "key"),
            ("control character in key", () => store.CreateAsync(K("bad\nkey"), V("x")).AsTask(), "key"),
            ("oversized value", () => store.CreateAsync(K("big"), new byte[2048]).AsTask(), "value"),
            ("update without a revision", () => store.UpdateAsync(K("kept"), V("x"), 0).AsTask(), "expectedModRevision"),
            ("negative delete precondition", () => store.DeleteAsync(K("kept"), -1).AsTask(), "expectedModRevision"),
            ("negative read revision", () => store.GetAsync(K("kept"), -5).AsTask(), "revision"),
            ("negative limit", () => store.RangeAsync(new RangeRequest { Prefix = Prefix, Limit = -1 }).AsTask(), "request.Limit"),
            ("zero TTL", () => store.GrantLeaseAsync(TimeSpan.Zero).AsTask(), "ttl"),
            ("negative TTL", () => store.GrantLeaseAsync(TimeSpan.FromSeconds(-3)).AsTask(), "ttl"),
            ("negative lease", () => store.CreateAsync(K("l"), V("x"), -2).AsTask(), "lease"),
        };
        foreach (var (name, call, parameter) in cases)
        {
            var thrown = await call.Should().ThrowAsync<InvalidStateRequestException>(name);
            thrown.Which.ParameterName.Should().Be(parameter, name);
        }

        await store.Invoking(s => s.CreateAsync(K("orphan"), V("x"), lease: 424242).AsTask()).Should().ThrowAsync<LeaseNotFoundException>();
        await store.Invoking(s => s.KeepAliveLeaseAsync(424242).AsTask()).Should().ThrowAsync<LeaseNotFoundException>();

        (await store.GetStatusAsync()).Revision.Should().Be(before);
        var stored = await store.GetAsync(K("kept"));
        Text(stored).Should().Be("safe");
        stored!.ModRevision.Should().Be(kept.Revision);
    }

    [Fact]
    public async Task A_closed_store_refuses_work_and_ends_its_watches()
    {
        var store = await OpenStoreAsync(new StateStoreOptions { CompactionInterval = null });
        await store.CreateAsync(K("a"), V("1"));
        var watch = await store.WatchAsync(new WatchRequest { Key = Prefix, Prefix = true });
        var reading = Task.Run(async () =>
        {
            await foreach (var _ in watch.ReadEventsAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token))
            {
            }
        });

        await store.DisposeAsync();

        await store.Invoking(s => s.GetAsync(K("a")).AsTask()).Should().ThrowAsync<StoreClosedException>();
        await store.Invoking(s => s.CreateAsync(K("b"), V("1")).AsTask()).Should().ThrowAsync<StoreClosedException>();
        await reading.Awaiting(r => r).Should().ThrowAsync<StoreClosedException>();
    }
}
