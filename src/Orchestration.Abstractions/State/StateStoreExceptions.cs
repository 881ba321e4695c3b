namespace Orchestration.State;

/// <summary>The base of every error a state store reports.</summary>
public class StateStoreException : Exception
{
    /// <summary>Creates the error.</summary>
    public StateStoreException(string message, Exception? innerException = null) : base(message, innerException) { }
}

/// <summary>A read or watch asked for a revision that compaction has already dropped (HTTP 410 at the API).</summary>
public sealed class CompactedException(long requestedRevision, long compactRevision)
    : StateStoreException($"revision {requestedRevision} has been compacted; the oldest readable revision is {compactRevision}. Read the current state again and continue from its revision.")
{
    /// <summary>The revision that was asked for.</summary>
    public long RequestedRevision { get; } = requestedRevision;

    /// <summary>The store's compaction point.</summary>
    public long CompactRevision { get; } = compactRevision;
}

/// <summary>A read or watch asked for a revision newer than the store's newest.</summary>
public sealed class FutureRevisionException(long requestedRevision, long currentRevision)
    : StateStoreException($"revision {requestedRevision} is in the future; the store's current revision is {currentRevision}.")
{
    /// <summary>The revision that was asked for.</summary>
    public long RequestedRevision { get; } = requestedRevision;

    /// <summary>The store's newest revision.</summary>
    public long CurrentRevision { get; } = currentRevision;
}

/// <summary>A watcher read so slowly that the store stopped keeping events for it.</summary>
public sealed class WatchFellBehindException(long lastDeliveredRevision, long currentRevision, string reason)
    : StateStoreException($"the watch fell too far behind: it had delivered up to revision {lastDeliveredRevision} while the store is at {currentRevision} ({reason}). Read the current state again and open a new watch from its revision.")
{
    /// <summary>The revision of the last event the watch delivered (or its start).</summary>
    public long LastDeliveredRevision { get; } = lastDeliveredRevision;
}

/// <summary>A lease that does not exist (never granted, expired or revoked).</summary>
public sealed class LeaseNotFoundException(long leaseId)
    : StateStoreException($"lease {leaseId} does not exist: it was never granted, has expired, or was revoked.")
{
    /// <summary>The lease that was asked for.</summary>
    public long LeaseId { get; } = leaseId;
}

/// <summary>The store was disposed, or failed and stopped accepting work.</summary>
public sealed class StoreClosedException(string message, Exception? innerException = null)
    : StateStoreException(message, innerException);

/// <summary>The store cannot be reached or its storage cannot be used (a daemon down, a directory not writable).</summary>
public sealed class StoreUnavailableException(string message, Exception? innerException = null)
    : StateStoreException(message, innerException);

/// <summary>The store's files hold something that is not a valid store; nothing was changed.</summary>
public sealed class StoreCorruptException(string message, Exception? innerException = null)
    : StateStoreException(message, innerException);

/// <summary>A request of the wrong shape: an empty or malformed key, an oversized value, a TTL of zero.</summary>
public sealed class InvalidStateRequestException(string parameterName, string message)
    : StateStoreException($"{parameterName}: {message}")
{
    /// <summary>The argument that was wrong.</summary>
    public string ParameterName { get; } = parameterName;
}
