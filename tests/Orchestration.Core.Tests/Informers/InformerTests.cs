using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.Informers;
using Orchestration.Resources;
using Orchestration.State;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.Informers;

/// <summary>Informers: the cache follows the cluster through broken streams and compaction.</summary>
[Trait("Category", "Unit")]
public sealed class InformerTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;

    public InformerTests() => _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));

    public async Task InitializeAsync() => await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private static V1ConfigMap Map(string name, string value = "1") => new() { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["v"] = value } };

    private static async Task EventuallyAsync(Func<bool> condition, string because) =>
        (await Eventually.HoldsAsync(condition, 200, TimeSpan.FromMilliseconds(25))).Should().BeTrue(because);

    [Fact]
    public async Task It_lists_then_follows_adds_updates_and_deletes()
    {
        await _client.CreateAsync(Map("before"));
        var informer = new Informer<V1ConfigMap>(_client, new InformerOptions { InitialBackoff = TimeSpan.FromMilliseconds(10) });
        var log = new ConcurrentQueue<string>();
        informer.Added += m => log.Enqueue($"add {m.Metadata.Name}");
        informer.Updated += (_, m) => log.Enqueue($"update {m.Metadata.Name}={m.Data["v"]}");
        informer.Deleted += m => log.Enqueue($"delete {m.Metadata.Name}");
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);
        await informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        await _client.CreateAsync(Map("after"));
        await _client.PatchAsync<V1ConfigMap>("default", "after", new ObjectPatch(PatchKind.Merge, """{"data":{"v":"2"}}"""));
        await _client.DeleteAsync<V1ConfigMap>("default", "before");
        await EventuallyAsync(() => log.Count == 4, "every change reaches the handlers");
        await stop.CancelAsync();
        await run;

        log.Should().Equal("add before", "add after", "update after=2", "delete before");
        informer.Cache.List().Select(m => m.Metadata.Name).Should().Equal("after");
        informer.Cache.Get("default", "after")!.Data["v"].Should().Be("2");
    }

    [Fact]
    public async Task Handlers_added_to_a_running_informer_first_get_what_it_holds_then_every_later_change()
    {
        await _client.CreateAsync(Map("one"));
        await _client.CreateAsync(Map("two"));
        var informer = new Informer<V1ConfigMap>(_client, new InformerOptions { InitialBackoff = TimeSpan.FromMilliseconds(10) });
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);
        await informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        var log = new ConcurrentQueue<string>();
        informer.AddEventHandlers(m => log.Enqueue($"add {m.Metadata.Name}"), (_, m) => log.Enqueue($"update {m.Metadata.Name}={m.Data["v"]}"), m => log.Enqueue($"delete {m.Metadata.Name}"));
        log.Order().Should().Equal("add one", "add two");
        await _client.PatchAsync<V1ConfigMap>("default", "one", new ObjectPatch(PatchKind.Merge, """{"data":{"v":"2"}}"""));
        await _client.DeleteAsync<V1ConfigMap>("default", "two");
        await EventuallyAsync(() => log.Count == 4, "the changes after the replay reach the late handlers");
        await stop.CancelAsync();
        await run;

        log.Skip(2).Should().Equal("update one=2", "delete two");
    }

    [Fact]
    public async Task A_cut_stream_resumes_and_nothing_is_missed()
    {
        var flaky = new FlakyClient(_client) { BreakEvery = 7 };
        var informer = new Informer<V1ConfigMap>(flaky, new InformerOptions { InitialBackoff = TimeSpan.FromMilliseconds(5) });
        var added = new ConcurrentDictionary<string, int>();
        var deleted = new ConcurrentDictionary<string, int>();
        informer.Added += m => added.AddOrUpdate(m.Metadata.Name, 1, (_, n) => n + 1);
        informer.Deleted += m => deleted.AddOrUpdate(m.Metadata.Name, 1, (_, n) => n + 1);
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);
        await informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        for (var i = 0; i < 100; i++)
        {
            await _client.CreateAsync(Map($"m{i}"));
            if (i % 3 == 0)
            {
                await _client.PatchAsync<V1ConfigMap>("default", $"m{i}", new ObjectPatch(PatchKind.Merge, """{"data":{"v":"x"}}"""));
            }

            if (i % 4 == 0)
            {
                await _client.DeleteAsync<V1ConfigMap>("default", $"m{i}");
            }
        }

        var expected = (await _client.ListAsync<V1ConfigMap>("default")).Items.ToDictionary(m => m.Metadata.Name, m => m.Metadata.ResourceVersion);
        await EventuallyAsync(() => informer.Cache.Count == expected.Count && informer.Cache.List().All(m => expected.GetValueOrDefault(m.Metadata.Name) == m.Metadata.ResourceVersion), "the cache ends equal to the store");
        await stop.CancelAsync();
        await run;

        flaky.Breaks.Should().BeGreaterThan(10, "the stream was cut many times");
        added.Keys.Should().BeEquivalentTo(Enumerable.Range(0, 100).Select(i => $"m{i}"), "every object was seen");
        added.Values.Should().AllSatisfy(n => n.Should().Be(1), "a resumed watch does not replay what was seen");
        deleted.Keys.Should().BeEquivalentTo(Enumerable.Range(0, 100).Where(i => i % 4 == 0).Select(i => $"m{i}"));
    }

    [Fact]
    public async Task A_compacted_resource_version_lists_again_and_reports_what_went_meanwhile()
    {
        await _client.CreateAsync(Map("stays"));
        await _client.CreateAsync(Map("goes"));
        var flaky = new FlakyClient(_client);
        var informer = new Informer<V1ConfigMap>(flaky, new InformerOptions { InitialBackoff = TimeSpan.FromMilliseconds(5) });
        var deleted = new ConcurrentQueue<string>();
        informer.Deleted += m => deleted.Enqueue(m.Metadata.Name);
        using var stop = new CancellationTokenSource();
        flaky.HoldWatches = true;
        var run = informer.RunAsync(stop.Token);
        await informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        await _client.DeleteAsync<V1ConfigMap>("default", "goes");
        await _client.CreateAsync(Map("new"));
        await _store.CompactAsync((await _store.GetStatusAsync()).Revision);
        flaky.HoldWatches = false;
        await EventuallyAsync(() => informer.Cache.Count == 2 && informer.Cache.Get("default", "new") is not null, "the relist brings the cache up to date");
        await stop.CancelAsync();
        await run;

        deleted.Should().Equal("goes");
        informer.Cache.Get("default", "goes").Should().BeNull();
    }

    [Fact]
    public async Task Resync_hands_every_cached_object_to_the_update_handlers_again()
    {
        var clock = new FakeTimeProvider();
        await _client.CreateAsync(Map("a"));
        var informer = new Informer<V1ConfigMap>(_client, new InformerOptions { ResyncPeriod = TimeSpan.FromMinutes(1) }, clock);
        var resynced = new ConcurrentQueue<string>();
        informer.Updated += (old, now) =>
        {
            if (ReferenceEquals(old, now))
            {
                resynced.Enqueue(now.Metadata.Name);
            }
        };
        using var stop = new CancellationTokenSource();
        var run = informer.RunAsync(stop.Token);
        await informer.WaitForSyncAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        clock.Advance(TimeSpan.FromMinutes(1));
        await EventuallyAsync(() => !resynced.IsEmpty, "the resync fires on the clock");
        await stop.CancelAsync();
        await run;

        resynced.Should().Equal("a");
    }

    /// <summary>A client whose watches break after a number of events, or wait while held.</summary>
    private sealed class FlakyClient(IClusterClient inner) : IClusterClient
    {
        private int _breaks;

        public int BreakEvery { get; init; } = int.MaxValue;

        public volatile bool HoldWatches;

        public int Breaks => _breaks;

        public Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta> => inner.GetAsync<T>(@namespace, name, cancellationToken);

        public Task<ObjectList<T>> ListAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta> => inner.ListAsync<T>(@namespace, options, cancellationToken);

        public Task<T> CreateAsync<T>(T obj, CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta> => inner.CreateAsync(obj, cancellationToken);

        public Task<T> UpdateAsync<T>(T obj, CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta> => inner.UpdateAsync(obj, cancellationToken);

        public Task<T> UpdateStatusAsync<T>(T obj, CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta> => inner.UpdateStatusAsync(obj, cancellationToken);

        public Task<T> PatchAsync<T>(string? @namespace, string name, ObjectPatch patch, CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta> => inner.PatchAsync<T>(@namespace, name, patch, cancellationToken);

        public Task<T> DeleteAsync<T>(string? @namespace, string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta> => inner.DeleteAsync<T>(@namespace, name, options, cancellationToken);

        public Task BindAsync(string? @namespace, string podName, string nodeName, CancellationToken cancellationToken = default) =>
            inner.BindAsync(@namespace, podName, nodeName, cancellationToken);

        public async IAsyncEnumerable<ObjectEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
            where T : class, IKubernetesObject<V1ObjectMeta>
        {
            while (HoldWatches)
            {
                await Task.Delay(10, cancellationToken);
            }

            var delivered = 0;
            await foreach (var evt in inner.WatchAsync<T>(@namespace, options, cancellationToken))
            {
                if (evt.Type != WatchEventType.Bookmark && ++delivered > BreakEvery)
                {
                    Interlocked.Increment(ref _breaks);
                    throw new ClusterApiException(503, "ServiceUnavailable", "the stream was cut");
                }

                yield return evt;
            }
        }
    }
}
