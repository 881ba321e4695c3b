using System.Collections.Immutable;

namespace Orchestration.State;

/// <summary>
/// The whole keyspace at one revision, immutable, so readers never wait for writers: a write
/// builds a new snapshot that shares almost everything with the old one.
/// </summary>
internal sealed class MvccSnapshot(ImmutableSortedSet<KeyNode> keys, long revision, long compactRevision)
{
    public static readonly MvccSnapshot Empty = new(ImmutableSortedSet.Create<KeyNode>(KeyNodeComparer.Instance), 0, 0);

    public ImmutableSortedSet<KeyNode> Keys { get; } = keys;

    public long Revision { get; } = revision;

    public long CompactRevision { get; } = compactRevision;

    public KeyNode? Find(string key) => Keys.TryGetValue(KeyNode.Probe(key), out var node) ? node : null;

    /// <summary>This snapshot with <paramref name="node"/> as its key's newest version, at <paramref name="revision"/>.</summary>
    public MvccSnapshot With(KeyNode node, KeyNode? replaced, long revision)
    {
        var keys = replaced is null ? Keys : Keys.Remove(replaced);
        return new MvccSnapshot(keys.Add(node), revision, CompactRevision);
    }

    /// <summary>This snapshot with history at or before <paramref name="compactRevision"/> dropped.</summary>
    public MvccSnapshot Compact(long compactRevision)
    {
        var builder = ImmutableSortedSet.CreateBuilder(KeyNodeComparer.Instance);
        foreach (var node in Keys)
        {
            var kept = node.Compact(compactRevision);
            if (kept is not null)
            {
                builder.Add(kept);
            }
        }

        return new MvccSnapshot(builder.ToImmutable(), Revision, Math.Max(CompactRevision, compactRevision));
    }
}
