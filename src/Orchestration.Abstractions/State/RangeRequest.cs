namespace Orchestration.State;

/// <summary>
/// Reads the keys under a prefix, in ascending ordinal key order, as they were at one revision.
/// </summary>
/// <remarks>
/// To page through a large range as one consistent snapshot, read the first page at revision 0,
/// then pass the <see cref="RangeResult.Revision"/> it returned and the last key it returned as
/// <see cref="StartAfter"/> for each following page.
/// </remarks>
public sealed record RangeRequest
{
    /// <summary>Every key that starts with this prefix is in range. An empty prefix is the whole keyspace.</summary>
    public required string Prefix { get; init; }

    /// <summary>The revision to read at; 0 reads the newest.</summary>
    public long Revision { get; init; }

    /// <summary>The most keys to return; 0 for no limit.</summary>
    public int Limit { get; init; }

    /// <summary>Only keys ordinally greater than this one are returned (the continue point of a paged read).</summary>
    public string? StartAfter { get; init; }
}

/// <summary>The answer to a <see cref="RangeRequest"/>.</summary>
/// <param name="Items">The keys in range, in ascending ordinal order, at most the request's limit.</param>
/// <param name="Revision">The revision the range was read at: pass it back to read the next page from the same snapshot.</param>
/// <param name="HasMore">True when keys beyond <paramref name="Items"/> are in range.</param>
public sealed record RangeResult(IReadOnlyList<StateKeyValue> Items, long Revision, bool HasMore);
