using System.Text.Json.Nodes;
using k8s;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Resources;

/// <summary>Watch semantics of the registry that clients build on: bookmarks and the end of the initial events.</summary>
[Trait("Category", "Unit")]
public sealed class RegistryWatchTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStateStore _store;
    private readonly ObjectRegistry _registry;
    private readonly ResourceKind _configMaps;

    public RegistryWatchTests()
    {
        _store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }, _clock);
        _registry = new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), _clock) { BookmarkInterval = TimeSpan.FromSeconds(30) };
        _configMaps = _registry.Kinds.Find("", "configmaps")!;
    }

    public async Task InitializeAsync() =>
        await _registry.CreateAsync(_registry.Kinds.Find("", "namespaces")!, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "default" } }, null, CancellationToken.None);

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_quiet_watch_that_allows_bookmarks_gets_one_per_interval_with_the_latest_revision()
    {
        var created = await _registry.CreateAsync(_configMaps, "default", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "a" } }, null, CancellationToken.None);
        var revision = created["metadata"]!["resourceVersion"]!.ToString();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var events = _registry.WatchAsync(_configMaps, "default", new WatchOptions { ResourceVersion = revision, AllowBookmarks = true }, timeout.Token).GetAsyncEnumerator(timeout.Token);

        var next = events.MoveNextAsync().AsTask();
        await Task.Delay(100);
        next.IsCompleted.Should().BeFalse("nothing happens before the interval");
        _clock.Advance(TimeSpan.FromSeconds(31));
        (await next).Should().BeTrue();

        events.Current.Type.Should().Be(WatchEventType.Bookmark);
        events.Current.Object["metadata"]!["resourceVersion"]!.ToString().Should().Be(revision);
        events.Current.Object["kind"]!.ToString().Should().Be("ConfigMap");
    }

    [Fact]
    public async Task Without_bookmarks_allowed_a_quiet_watch_sends_nothing()
    {
        var created = await _registry.CreateAsync(_configMaps, "default", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "a" } }, null, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var events = _registry.WatchAsync(_configMaps, "default", new WatchOptions { ResourceVersion = created["metadata"]!["resourceVersion"]!.ToString() }, timeout.Token).GetAsyncEnumerator(timeout.Token);

        var next = events.MoveNextAsync().AsTask();
        _clock.Advance(TimeSpan.FromMinutes(5));
        await Task.Delay(200);

        next.IsCompleted.Should().BeFalse();
        await _registry.CreateAsync(_configMaps, "default", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "b" } }, null, CancellationToken.None);
        (await next).Should().BeTrue();
        events.Current.Type.Should().Be(WatchEventType.Added);
    }

    [Fact]
    public async Task Watchers_of_one_change_share_its_decoded_object_when_they_ask_for_sharing()
    {
        var created = await _registry.CreateAsync(_configMaps, "default", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "a" } }, null, CancellationToken.None);
        var from = new WatchOptions { ResourceVersion = created["metadata"]!["resourceVersion"]!.ToString() };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var first = _registry.WatchSharedAsync(_configMaps, "default", from, timeout.Token).GetAsyncEnumerator(timeout.Token);
        await using var second = _registry.WatchSharedAsync(_configMaps, null, from, timeout.Token).GetAsyncEnumerator(timeout.Token);
        await using var own = _registry.WatchAsync(_configMaps, "default", from, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var moves = new[] { first.MoveNextAsync().AsTask(), second.MoveNextAsync().AsTask(), own.MoveNextAsync().AsTask() };

        await _registry.CreateAsync(_configMaps, "default", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "b" } }, null, CancellationToken.None);
        (await Task.WhenAll(moves)).Should().AllBeEquivalentTo(true);

        first.Current.Object.Should().BeSameAs(second.Current.Object, "one change is decoded once for every watcher that shares");
        first.Current.Source.Should().BeSameAs(second.Current.Source);
        own.Current.Object.Should().NotBeSameAs(first.Current.Object, "a plain watch gets an object of its own to change");
        JsonNode.DeepEquals(own.Current.Object, first.Current.Object).Should().BeTrue();
    }
}
