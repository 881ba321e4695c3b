namespace Orchestration.Cli;

/// <summary>The node of <c>orch up</c> could not start; the message says why and <c>orch</c> exits with it.</summary>
internal sealed class NodeStartException(string message, Exception inner) : Exception(message, inner);
