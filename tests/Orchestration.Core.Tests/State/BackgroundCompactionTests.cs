using System.Text;
using Microsoft.Extensions.Time.Testing;
using Orchestration.State;

namespace Orchestration.Core.Tests.State;

/// <summary>Background compaction keeps at least one interval of history and drops what is older.</summary>
[Trait("Category", "Unit")]
public sealed class BackgroundCompactionTests
{
    [Fact]
    public async Task Each_run_compacts_to_the_revision_the_previous_run_saw()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = TimeSpan.FromMinutes(5) }, clock);
        var first = await store.CreateAsync("/a", Encoding.UTF8.GetBytes("1"));

        clock.Advance(TimeSpan.FromMinutes(5));
        (await store.GetStatusAsync()).CompactRevision.Should().Be(0, "the store was empty when it opened, so the first run has nothing to drop");
        var second = await store.UpdateAsync("/a", Encoding.UTF8.GetBytes("2"), first.Revision);
        var third = await store.UpdateAsync("/a", Encoding.UTF8.GetBytes("3"), second.Revision);

        clock.Advance(TimeSpan.FromMinutes(5));
        (await store.GetStatusAsync()).CompactRevision.Should().Be(first.Revision, "the second run compacts to what the first run saw");
        Encoding.UTF8.GetString((await store.GetAsync("/a", second.Revision))!.Value.Span).Should().Be("2", "history newer than the mark is kept");

        clock.Advance(TimeSpan.FromMinutes(5));
        (await store.GetStatusAsync()).CompactRevision.Should().Be(third.Revision);
        await store.Invoking(s => s.GetAsync("/a", second.Revision).AsTask()).Should().ThrowAsync<CompactedException>();
        Encoding.UTF8.GetString((await store.GetAsync("/a"))!.Value.Span).Should().Be("3");
    }
}
