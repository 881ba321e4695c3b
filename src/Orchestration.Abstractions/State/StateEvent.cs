namespace Orchestration.State;

/// <summary>What a <see cref="StateEvent"/> did to its key.</summary>
public enum StateEventType
{
    /// <summary>The key was created or updated.</summary>
    Put,

    /// <summary>The key was deleted (explicitly, or because its lease ended).</summary>
    Delete,
}

/// <summary>One change of one key, as a watch delivers it.</summary>
/// <param name="Type">Put or delete.</param>
/// <param name="Kv">
/// For a put, the new version. For a delete, the key with <see cref="StateKeyValue.ModRevision"/>
/// set to the revision of the delete and an empty value.
/// </param>
/// <param name="PrevKv">The version before this change; always set for a delete, null for a create.</param>
public sealed record StateEvent(StateEventType Type, StateKeyValue Kv, StateKeyValue? PrevKv)
{
    /// <summary>The revision of the write that made this change.</summary>
    public long Revision => Kv.ModRevision;
}
