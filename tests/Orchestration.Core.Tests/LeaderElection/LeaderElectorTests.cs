using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.LeaderElection;
using Orchestration.Resources;
using Orchestration.State;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.LeaderElection;

/// <summary>Leader election on a Lease, on a fake clock: one leader, takeover after expiry, and a lost lease stops leading at once.</summary>
[Trait("Category", "Unit")]
public sealed class LeaderElectorTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;

    public LeaderElectorTests() => _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), _clock));

    public async Task InitializeAsync() => await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "kube-system" } });

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private LeaderElector Candidate(string identity) => new(_client, new LeaderElectionOptions { Identity = identity, LeaseName = "test" }, _clock);

    private async Task AdvanceAsync(TimeSpan total)
    {
        for (var passed = TimeSpan.Zero; passed < total; passed += TimeSpan.FromSeconds(1))
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20);
        }
    }

    private static async Task EventuallyAsync(Func<bool> condition, string because) =>
        (await Eventually.HoldsAsync(condition, 200, TimeSpan.FromMilliseconds(10))).Should().BeTrue(because);

    [Fact]
    public async Task One_candidate_leads_and_another_takes_over_only_after_the_lease_expires()
    {
        var first = Candidate("a");
        var second = Candidate("b");
        using var stopFirst = new CancellationTokenSource();
        using var stopSecond = new CancellationTokenSource();
        var firstRun = first.RunAsync(ct => Task.Delay(Timeout.Infinite, ct), stopFirst.Token);
        await EventuallyAsync(() => first.IsLeader, "the first candidate takes the free lease");
        var secondRun = second.RunAsync(ct => Task.Delay(Timeout.Infinite, ct), stopSecond.Token);

        await AdvanceAsync(TimeSpan.FromSeconds(30));
        var secondLedWhileFirstRenewed = second.IsLeader;
        await stopFirst.CancelAsync();
        await firstRun;
        await AdvanceAsync(TimeSpan.FromSeconds(10));
        var secondLedBeforeExpiry = second.IsLeader;
        await AdvanceAsync(TimeSpan.FromSeconds(8));
        await EventuallyAsync(() => second.IsLeader, "an expired lease is taken over");
        await stopSecond.CancelAsync();
        await secondRun;

        secondLedWhileFirstRenewed.Should().BeFalse("a renewed lease is not taken");
        secondLedBeforeExpiry.Should().BeFalse("the lease holds for its duration after the last renewal");
        var lease = await _client.GetAsync<V1Lease>("kube-system", "test");
        lease.Spec.HolderIdentity.Should().Be("b");
        lease.Spec.LeaseTransitions.Should().Be(1);
    }

    [Fact]
    public async Task Leading_stops_at_once_when_the_lease_is_seen_in_another_holders_hands()
    {
        var leader = Candidate("a");
        var stopped = new TaskCompletionSource();
        using var stop = new CancellationTokenSource();
        var run = leader.RunAsync(
            async ct =>
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                finally
                {
                    stopped.TrySetResult();
                }
            },
            stop.Token);
        await EventuallyAsync(() => leader.IsLeader, "the candidate takes the free lease");

        var lease = await _client.GetAsync<V1Lease>("kube-system", "test");
        lease.Spec.HolderIdentity = "intruder";
        lease.Spec.RenewTime = _clock.GetUtcNow().UtcDateTime;
        await _client.UpdateAsync(lease);
        await AdvanceAsync(TimeSpan.FromSeconds(2));

        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(5));
        leader.IsLeader.Should().BeFalse();
        await stop.CancelAsync();
        await run;
    }
}
