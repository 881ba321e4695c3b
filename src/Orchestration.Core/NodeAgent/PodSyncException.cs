namespace Orchestration.NodeAgent;

/// <summary>A pod could not be synced for a reason its events and status already carry (the runtime refused a sandbox); it is tried again with back-off.</summary>
public sealed class PodSyncException : Exception
{
    /// <summary>A failure with its reason.</summary>
    public PodSyncException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
