namespace Orchestration.State;

/// <summary>
/// One version of a key in an immutable history chain: the newest version points at the one before.
/// A null <see cref="Value"/> is a tombstone (the key was deleted at <see cref="Revision"/>).
/// </summary>
internal sealed class KeyNode(string key, StateKeyValue? value, long revision, KeyNode? previous)
{
    public string Key { get; } = key;

    public StateKeyValue? Value { get; } = value;

    public long Revision { get; } = revision;

    public KeyNode? Previous { get; } = previous;

    /// <summary>A node used only to search the sorted set for a key.</summary>
    public static KeyNode Probe(string key) => new(key, null, 0, null);

    /// <summary>The key's value as it was at <paramref name="revision"/>, or null when it did not exist.</summary>
    public StateKeyValue? At(long revision)
    {
        var node = this;
        while (node is not null && node.Revision > revision)
        {
            node = node.Previous;
        }

        return node?.Value;
    }

    /// <summary>
    /// This chain with every version superseded at or before <paramref name="compactRevision"/>
    /// dropped, or null when nothing readable is left (the key was deleted before that revision).
    /// </summary>
    public KeyNode? Compact(long compactRevision)
    {
        if (Revision <= compactRevision)
        {
            return Value is null ? null : (Previous is null ? this : new KeyNode(Key, Value, Revision, null));
        }

        var previous = Previous?.Compact(compactRevision);
        return ReferenceEquals(previous, Previous) ? this : new KeyNode(Key, Value, Revision, previous);
    }
}

/// <summary>Orders <see cref="KeyNode"/>s by key, ordinally, as etcd orders keys by bytes.</summary>
internal sealed class KeyNodeComparer : IComparer<KeyNode>
{
    public static readonly KeyNodeComparer Instance = new();

    public int Compare(KeyNode? x, KeyNode? y) => string.CompareOrdinal(x!.Key, y!.Key);
}
