using System.Collections.Concurrent;
using ARSoft.Tools.Net.Dns;

namespace Orchestration.Dns.Forwarding;

/// <summary>
/// Upstream answers, kept for their TTL (positive answers: the smallest record TTL; negative ones: the
/// SOA's negative TTL, RFC 2308), at most <c>capacity</c> of them: a full cache first drops what has
/// expired, then a tenth of the rest.
/// </summary>
internal sealed class UpstreamCache(int capacity, TimeSpan maxTtl, TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<CacheKey, CachedResponse> _entries = new();
    private readonly Lock _sweep = new();
    private readonly int _maxTtl = (int)Math.Min(maxTtl.TotalSeconds, int.MaxValue);

    public int Count => _entries.Count;

    /// <summary>A live entry, and how many whole seconds it has aged.</summary>
    public bool TryGet(CacheKey key, out CachedResponse? entry, out int ageSeconds)
    {
        ageSeconds = 0;
        if (!_entries.TryGetValue(key, out entry))
        {
            return false;
        }

        var age = timeProvider.GetElapsedTime(entry.StoredAt);
        if (age.TotalSeconds >= entry.TtlSeconds)
        {
            _entries.TryRemove(new KeyValuePair<CacheKey, CachedResponse>(key, entry));
            entry = null;
            return false;
        }

        ageSeconds = (int)age.TotalSeconds;
        return true;
    }

    /// <summary>Stores a response for as long as <see cref="TtlOf"/> says; one that may not be cached is not.</summary>
    public void Add(CacheKey key, byte[] message, DnsMessage parsed)
    {
        var ttl = Math.Min(TtlOf(parsed), _maxTtl);
        if (ttl <= 0 || capacity == 0)
        {
            return;
        }

        if (_entries.Count >= capacity)
        {
            Sweep();
        }

        _entries[key] = new CachedResponse(message, timeProvider.GetTimestamp(), ttl);
    }

    /// <summary>How long a response may be cached, in seconds: 0 for failures and for negative answers without an SOA.</summary>
    public static int TtlOf(DnsMessage response)
    {
        if (response.ReturnCode is not (ReturnCode.NoError or ReturnCode.NxDomain) || response.IsTruncated)
        {
            return 0;
        }

        if (response.ReturnCode == ReturnCode.NoError && response.AnswerRecords.Count > 0)
        {
            return response.AnswerRecords.Min(r => r.TimeToLive);
        }

        var soa = response.AuthorityRecords.OfType<SoaRecord>().FirstOrDefault();
        return soa is null ? 0 : Math.Min(soa.TimeToLive, soa.NegativeCachingTTL);
    }

    private void Sweep()
    {
        lock (_sweep)
        {
            if (_entries.Count < capacity)
            {
                return;
            }

            foreach (var (key, entry) in _entries)
            {
                if (timeProvider.GetElapsedTime(entry.StoredAt).TotalSeconds >= entry.TtlSeconds)
                {
                    _entries.TryRemove(key, out _);
                }
            }

            var excess = _entries.Count - (capacity - Math.Max(1, capacity / 10));
            foreach (var key in _entries.Keys)
            {
                if (excess-- <= 0)
                {
                    break;
                }

                _entries.TryRemove(key, out _);
            }
        }
    }
}
