namespace Orchestration.TestKit.Linearizability;

/// <summary>What a client asked of one key.</summary>
public enum RegisterOp
{
    /// <summary>Get the key.</summary>
    Read,

    /// <summary>Create the key if absent.</summary>
    Create,

    /// <summary>Update the key if its mod revision matches.</summary>
    Update,

    /// <summary>Delete the key if its mod revision matches.</summary>
    Delete,
}

/// <summary>An operation on one key: for Update and Delete, <paramref name="ExpectedRevision"/> is the precondition.</summary>
public sealed record RegisterInput(RegisterOp Op, string? Value, long ExpectedRevision);

/// <summary>
/// What came back: for a read, the value and mod revision seen (null value: absent); for a write,
/// whether it succeeded and the revision it was given.
/// </summary>
public sealed record RegisterOutput(bool Succeeded, string? Value, long Revision);

/// <summary>The state of one key: absent, or a value written at a mod revision.</summary>
public readonly record struct RegisterState(bool Exists, string? Value, long ModRevision);

/// <summary>
/// One key of a revisioned store with compare-and-swap, as a sequential specification.
/// Revisions given to successful writes must grow.
/// </summary>
public sealed class CasRegisterModel : ISequentialModel<RegisterState, RegisterInput, RegisterOutput>
{
    /// <inheritdoc />
    public RegisterState Initial => default;

    /// <inheritdoc />
    public (bool Legal, RegisterState Next) Step(RegisterState state, RegisterInput input, RegisterOutput output)
    {
        switch (input.Op)
        {
            case RegisterOp.Read:
                var matches = state.Exists
                    ? output.Value == state.Value && output.Revision == state.ModRevision
                    : output.Value is null;
                return (matches, state);
            case RegisterOp.Create:
                return output.Succeeded
                    ? (!state.Exists && output.Revision > state.ModRevision, new RegisterState(true, input.Value, output.Revision))
                    : (state.Exists, state);
            case RegisterOp.Update:
                var canUpdate = state.Exists && state.ModRevision == input.ExpectedRevision;
                return output.Succeeded
                    ? (canUpdate && output.Revision > state.ModRevision, new RegisterState(true, input.Value, output.Revision))
                    : (!canUpdate, state);
            case RegisterOp.Delete:
                var canDelete = state.Exists && (input.ExpectedRevision == 0 || state.ModRevision == input.ExpectedRevision);

                // The revision of a deleted key is kept so a later create must still move forward.
                return output.Succeeded
                    ? (canDelete, new RegisterState(false, null, output.Revision))
                    : (!canDelete, state);
            default:
                throw new ArgumentOutOfRangeException(nameof(input), input.Op, null);
        }
    }
}
