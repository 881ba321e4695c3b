namespace Orchestration.State;

/// <summary>What a watch follows, and from where.</summary>
public sealed record WatchRequest
{
    /// <summary>The key, or with <see cref="Prefix"/> the prefix, to follow.</summary>
    public required string Key { get; init; }

    /// <summary>True to follow every key that starts with <see cref="Key"/>.</summary>
    public bool Prefix { get; init; }

    /// <summary>
    /// Deliver every change with a revision greater than this one. Null starts from the store's
    /// current revision, that is, only changes made after the watch was opened.
    /// </summary>
    public long? AfterRevision { get; init; }
}
