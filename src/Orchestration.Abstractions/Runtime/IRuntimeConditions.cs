namespace Orchestration.Runtime;

/// <summary>
/// A runtime that reports its own conditions (CRI's <c>Status</c>: RuntimeReady, NetworkReady). The
/// node agent asks every <c>NodeAgentOptions.RuntimeStatusInterval</c> and reports its Node not
/// ready while a condition is false or the call fails. Optional: for a runtime without it, the agent
/// counts an answer to <see cref="INodeRuntime.ListPodSandboxesAsync"/> as the runtime being up.
/// </summary>
public interface IRuntimeConditions
{
    /// <summary>The runtime's conditions as it reports them now.</summary>
    /// <exception cref="IOException">The runtime does not answer.</exception>
    Task<IReadOnlyList<RuntimeCondition>> GetConditionsAsync(CancellationToken cancellationToken);
}

/// <summary>One condition of a runtime, in CRI's words.</summary>
/// <param name="Type">The condition: <see cref="RuntimeReady"/>, <see cref="NetworkReady"/>, or a runtime's own.</param>
/// <param name="Status">Whether it holds.</param>
/// <param name="Reason">Why not, in one word (<c>NetworkPluginNotReady</c>).</param>
/// <param name="Message">Why not, for people.</param>
public sealed record RuntimeCondition(string Type, bool Status, string Reason, string Message)
{
    /// <summary>The runtime can run containers.</summary>
    public const string RuntimeReady = "RuntimeReady";

    /// <summary>The runtime's pod network is configured (CNI), so sandboxes get an IP.</summary>
    public const string NetworkReady = "NetworkReady";

    /// <summary>As kubelet prints a runtime condition in the Node's message: <c>NetworkReady=false reason:X message:Y</c>.</summary>
    public override string ToString() =>
        $"{Type}={(Status ? "true" : "false")} reason:{Reason} message:{Message}";
}
