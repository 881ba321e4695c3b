namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>A worker's runtime daemon could not start; the message says why (the host's start fails with it).</summary>
public sealed class NodeStartException : Exception
{
    /// <summary>A failure with its reason.</summary>
    public NodeStartException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
