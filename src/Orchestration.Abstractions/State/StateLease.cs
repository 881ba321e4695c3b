namespace Orchestration.State;

/// <summary>A granted lease: keys attached to it are deleted when it expires or is revoked.</summary>
/// <param name="Id">The lease's identifier (never 0).</param>
/// <param name="Ttl">How long the lease lives without a keep-alive.</param>
public sealed record StateLease(long Id, TimeSpan Ttl);
