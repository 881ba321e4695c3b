namespace Orchestration.State;

/// <summary>Leases: time-bounded ownership of keys.</summary>
/// <remarks>
/// A lease lives for its TTL after the last grant or keep-alive. When it expires, or is revoked,
/// every key attached to it is deleted and watchers see the deletes. Expiry is measured with the
/// store's <see cref="TimeProvider"/>. After a restart a durable store gives each surviving lease
/// a full TTL again, as etcd does.
/// </remarks>
public interface IStateLeases
{
    /// <summary>Grants a new lease.</summary>
    /// <param name="ttl">How long it lives without a keep-alive; must be positive.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    ValueTask<StateLease> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>Renews a lease for another full TTL.</summary>
    /// <returns>The TTL it now has.</returns>
    /// <exception cref="LeaseNotFoundException">The lease expired, was revoked, or never existed.</exception>
    ValueTask<TimeSpan> KeepAliveLeaseAsync(long leaseId, CancellationToken cancellationToken = default);

    /// <summary>Ends a lease now and deletes the keys attached to it.</summary>
    /// <exception cref="LeaseNotFoundException">The lease expired, was revoked, or never existed.</exception>
    ValueTask RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken = default);
}
