namespace Orchestration.NodeAgent;

/// <summary>A container's environment, and what kubelet would warn about while building it (InvalidEnvironmentVariableNames events).</summary>
/// <param name="Variables">The variables, in the order they were first defined.</param>
/// <param name="Warnings">Messages of skipped envFrom keys.</param>
internal sealed record ResolvedEnvironment(IReadOnlyDictionary<string, string> Variables, IReadOnlyList<string> Warnings);
