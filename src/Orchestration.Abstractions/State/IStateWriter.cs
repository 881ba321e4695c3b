namespace Orchestration.State;

/// <summary>Writes a revisioned key/value store with compare-and-swap preconditions.</summary>
/// <remarks>
/// Every successful write increments the store's single global revision by one and is stamped
/// with it. A write is durable, as far as the implementation promises durability, when its task
/// completes. A failed precondition never throws: it returns a result whose
/// <see cref="WriteResult.Succeeded"/> is false and whose <see cref="WriteResult.Current"/> holds
/// what is stored now.
/// </remarks>
public interface IStateWriter
{
    /// <summary>Creates a key that does not exist. Fails (a conflict) when it does.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="lease">A lease to attach the key to, or 0.</param>
    /// <param name="cancellationToken">Cancels waiting; the write may still happen.</param>
    /// <exception cref="LeaseNotFoundException">The lease does not exist.</exception>
    ValueTask<WriteResult> CreateAsync(string key, ReadOnlyMemory<byte> value, long lease = 0, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the value of an existing key whose mod revision is <paramref name="expectedModRevision"/>.
    /// Fails (a conflict) when the key is absent or was written since.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The new value.</param>
    /// <param name="expectedModRevision">The mod revision the caller last saw; must be positive.</param>
    /// <param name="lease">A lease to attach the key to, or 0 for none.</param>
    /// <param name="cancellationToken">Cancels waiting; the write may still happen.</param>
    /// <exception cref="LeaseNotFoundException">The lease does not exist.</exception>
    ValueTask<WriteResult> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedModRevision, long lease = 0, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a key. With a positive <paramref name="expectedModRevision"/> only when the key's mod
    /// revision still equals it; with 0, whatever its mod revision. Fails (a conflict) when the key
    /// is absent or the precondition does not hold.
    /// </summary>
    ValueTask<WriteResult> DeleteAsync(string key, long expectedModRevision = 0, CancellationToken cancellationToken = default);
}
