namespace Orchestration.State;

/// <summary>
/// The outcome of a conditional write. A failed precondition is a result, not an exception,
/// because callers (the registry) always want the current value to decide what to do next.
/// </summary>
public sealed record WriteResult
{
    /// <summary>True when the write happened; false when its precondition failed (a conflict).</summary>
    public required bool Succeeded { get; init; }

    /// <summary>
    /// On success, the revision of this write. On a conflict, the store's revision when the
    /// precondition was checked.
    /// </summary>
    public required long Revision { get; init; }

    /// <summary>
    /// On success, the version just written (null after a delete). On a conflict, the current
    /// version of the key, or null when the key does not exist.
    /// </summary>
    public StateKeyValue? Current { get; init; }

    /// <summary>On success, the version this write replaced or removed; null for a create.</summary>
    public StateKeyValue? Previous { get; init; }
}
