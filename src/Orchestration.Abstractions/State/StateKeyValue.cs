namespace Orchestration.State;

/// <summary>
/// One version of one key, as a state store holds it (etcd's <c>mvccpb.KeyValue</c>).
/// </summary>
/// <remarks>
/// Instances are immutable and shared between readers: never write into <see cref="Value"/>.
/// </remarks>
public sealed record StateKeyValue
{
    /// <summary>The key.</summary>
    public required string Key { get; init; }

    /// <summary>The value bytes; empty for a deletion event.</summary>
    public ReadOnlyMemory<byte> Value { get; init; }

    /// <summary>The revision of the write that created the key (since it last did not exist).</summary>
    public long CreateRevision { get; init; }

    /// <summary>The revision of the write that produced this version. For a deletion event, the revision of the delete.</summary>
    public long ModRevision { get; init; }

    /// <summary>How many times the key was written since it was created: 1 after the create.</summary>
    public long Version { get; init; }

    /// <summary>The lease the key is attached to, or 0 for none.</summary>
    public long Lease { get; init; }
}
