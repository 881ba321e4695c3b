namespace Orchestration.Dns.Forwarding;

/// <summary>An upstream's response as received, when it was stored and for how long it holds.</summary>
internal sealed record CachedResponse(byte[] Message, long StoredAt, int TtlSeconds);
