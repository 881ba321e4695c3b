namespace Orchestration.TestKit.Linearizability;

/// <summary>One completed operation of a recorded concurrent history.</summary>
/// <param name="Client">Who issued it (for messages only).</param>
/// <param name="Input">What was asked.</param>
/// <param name="Output">What came back.</param>
/// <param name="Call">When it was issued (a monotonic timestamp).</param>
/// <param name="Return">When its answer arrived.</param>
/// <typeparam name="TInput">What an operation asks.</typeparam>
/// <typeparam name="TOutput">What an operation answers.</typeparam>
public sealed record Operation<TInput, TOutput>(int Client, TInput Input, TOutput Output, long Call, long Return);

/// <summary>A sequential specification: what a single correct copy of the system would answer.</summary>
/// <typeparam name="TState">The state; must have value equality (it is cached).</typeparam>
/// <typeparam name="TInput">What an operation asks.</typeparam>
/// <typeparam name="TOutput">What an operation answers.</typeparam>
public interface ISequentialModel<TState, TInput, TOutput>
    where TState : notnull
{
    /// <summary>The state before any operation.</summary>
    TState Initial { get; }

    /// <summary>Whether <paramref name="output"/> is a legal answer to <paramref name="input"/> in <paramref name="state"/>, and the state after.</summary>
    (bool Legal, TState Next) Step(TState state, TInput input, TOutput output);
}
