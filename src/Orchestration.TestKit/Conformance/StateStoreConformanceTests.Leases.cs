using FluentAssertions;
using Orchestration.State;
using Xunit;

namespace Orchestration.TestKit.Conformance;

public abstract partial class StateStoreConformanceTests
{
    /// <summary>Lets time pass: on the fake clock at once, otherwise for real.</summary>
    protected async Task PassAsync(TimeSpan time)
    {
        if (UsesFakeClock)
        {
            Clock.Advance(time);
        }
        else
        {
            await Task.Delay(time);
        }
    }

    /// <summary>The TTL lease tests use: long on a fake clock, short (etcd's scale) on a real one.</summary>
    private TimeSpan LeaseTtl => UsesFakeClock ? TimeSpan.FromSeconds(10) : TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Keys_on_a_lease_live_while_it_is_kept_alive_and_vanish_with_delete_events_when_it_expires()
    {
        var store = await NewStoreAsync();
        var ttl = LeaseTtl;
        var lease = await store.GrantLeaseAsync(ttl);
        lease.Id.Should().NotBe(0);
        lease.Ttl.Should().Be(ttl);
        await store.CreateAsync(K("l/one"), V("1"), lease.Id);
        await store.CreateAsync(K("l/two"), V("2"), lease.Id);
        await store.CreateAsync(K("l/free"), V("3"));
        await using var watch = await store.WatchAsync(new WatchRequest { Key = K("l/"), Prefix = true });

        await PassAsync(ttl * 0.6);
        (await store.KeepAliveLeaseAsync(lease.Id)).Should().Be(ttl);
        await PassAsync(ttl * 0.6);
        (await store.GetAsync(K("l/one"))).Should().NotBeNull("the keep-alive renewed the lease for a whole TTL");

        await PassAsync(ttl * 0.6);
        var deletes = await CollectAsync(watch, 2, TimeSpan.FromSeconds(30));

        deletes.Should().OnlyContain(e => e.Type == StateEventType.Delete);
        deletes.Select(e => e.Kv.Key).Should().BeEquivalentTo([K("l/one"), K("l/two")]);
        deletes.Select(e => Text(e.PrevKv)).Should().BeEquivalentTo(["1", "2"]);
        (await store.GetAsync(K("l/one"))).Should().BeNull();
        (await store.GetAsync(K("l/free"))).Should().NotBeNull();
        await store.Invoking(s => s.KeepAliveLeaseAsync(lease.Id).AsTask()).Should().ThrowAsync<LeaseNotFoundException>();
    }

    [Fact]
    public async Task Revoking_a_lease_deletes_its_keys_at_once()
    {
        var store = await NewStoreAsync();
        var lease = await store.GrantLeaseAsync(TimeSpan.FromMinutes(10));
        await store.CreateAsync(K("r/a"), V("a"), lease.Id);
        await store.CreateAsync(K("r/b"), V("b"), lease.Id);
        await using var watch = await store.WatchAsync(new WatchRequest { Key = K("r/"), Prefix = true });

        await store.RevokeLeaseAsync(lease.Id);

        var deletes = await CollectAsync(watch, 2);
        deletes.Should().OnlyContain(e => e.Type == StateEventType.Delete);
        (await store.RangeAsync(new RangeRequest { Prefix = K("r/") })).Items.Should().BeEmpty();
        await store.Invoking(s => s.RevokeLeaseAsync(lease.Id).AsTask()).Should().ThrowAsync<LeaseNotFoundException>();
    }

    [Fact]
    public async Task A_key_rewritten_without_its_lease_survives_the_lease()
    {
        var store = await NewStoreAsync();
        var lease = await store.GrantLeaseAsync(TimeSpan.FromMinutes(10));
        var created = await store.CreateAsync(K("d/a"), V("leased"), lease.Id);
        created.Current!.Lease.Should().Be(lease.Id);
        await store.UpdateAsync(K("d/a"), V("free"), created.Revision, lease: 0);

        await store.RevokeLeaseAsync(lease.Id);

        var kept = await store.GetAsync(K("d/a"));
        Text(kept).Should().Be("free");
        kept!.Lease.Should().Be(0);
    }
}
