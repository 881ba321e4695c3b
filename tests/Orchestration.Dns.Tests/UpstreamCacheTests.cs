using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Dns.Forwarding;

namespace Orchestration.Dns.Tests;

[Trait("Category", "Unit")]
public sealed class UpstreamCacheTests
{
    private readonly FakeTimeProvider _time = new();

    private static DnsMessage Answer(ReturnCode code, int ttl, bool soa = false)
    {
        var name = DomainName.Parse("www.example.com");
        var message = new DnsMessage { IsQuery = false, ReturnCode = code };
        message.Questions.Add(new DnsQuestion(name, RecordType.A, RecordClass.INet));
        if (code == ReturnCode.NoError && !soa)
        {
            message.AnswerRecords.Add(new ARecord(name, ttl, IPAddress.Parse("192.0.2.1")));
            message.AnswerRecords.Add(new ARecord(name, ttl * 2, IPAddress.Parse("192.0.2.2")));
        }

        if (soa)
        {
            message.AuthorityRecords.Add(new SoaRecord(DomainName.Parse("example.com"), ttl * 2, DomainName.Parse("ns.example.com"), DomainName.Parse("h.example.com"), 1, 1, 1, 1, ttl));
        }

        return message;
    }

    private static CacheKey Key(string name = "www.example.com") => new(name, RecordType.A, RecordClass.INet);

    [Fact]
    public void An_answer_is_kept_for_its_smallest_ttl_and_ages_meanwhile()
    {
        var cache = new UpstreamCache(10, TimeSpan.FromHours(1), _time);
        cache.Add(Key(), [1], Answer(ReturnCode.NoError, 60));

        _time.Advance(TimeSpan.FromSeconds(59));
        cache.TryGet(Key(), out _, out var age).Should().BeTrue();
        age.Should().Be(59);
        _time.Advance(TimeSpan.FromSeconds(1));
        cache.TryGet(Key(), out _, out _).Should().BeFalse();
    }

    [Fact]
    public void Negative_answers_are_kept_for_the_SOA_s_negative_ttl_and_those_without_SOA_not_at_all()
    {
        UpstreamCache.TtlOf(Answer(ReturnCode.NxDomain, 40, soa: true)).Should().Be(40);
        UpstreamCache.TtlOf(Answer(ReturnCode.NoError, 40, soa: true)).Should().Be(40);
        UpstreamCache.TtlOf(Answer(ReturnCode.NxDomain, 40)).Should().Be(0);
        UpstreamCache.TtlOf(Answer(ReturnCode.ServerFailure, 40)).Should().Be(0);
    }

    [Fact]
    public void The_longest_ttl_is_capped()
    {
        var cache = new UpstreamCache(10, TimeSpan.FromSeconds(10), _time);
        cache.Add(Key(), [1], Answer(ReturnCode.NoError, 3600));

        _time.Advance(TimeSpan.FromSeconds(10));

        cache.TryGet(Key(), out _, out _).Should().BeFalse();
    }

    [Fact]
    public void A_full_cache_stays_within_its_size()
    {
        var cache = new UpstreamCache(100, TimeSpan.FromHours(1), _time);

        for (var i = 0; i < 1_000; i++)
        {
            cache.Add(Key($"n{i}.example.com"), [1], Answer(ReturnCode.NoError, 60));
        }

        cache.Count.Should().BeLessThanOrEqualTo(100);
        cache.TryGet(Key("n999.example.com"), out _, out _).Should().BeTrue("the newest answer is kept");
    }

    [Fact]
    public void A_full_cache_drops_expired_answers_first()
    {
        var cache = new UpstreamCache(10, TimeSpan.FromHours(1), _time);
        for (var i = 0; i < 9; i++)
        {
            cache.Add(Key($"old{i}.example.com"), [1], Answer(ReturnCode.NoError, 5));
        }

        cache.Add(Key("keep.example.com"), [1], Answer(ReturnCode.NoError, 600));
        _time.Advance(TimeSpan.FromSeconds(10));

        cache.Add(Key("new.example.com"), [1], Answer(ReturnCode.NoError, 600));

        cache.Count.Should().Be(2);
        cache.TryGet(Key("keep.example.com"), out _, out _).Should().BeTrue();
    }
}
