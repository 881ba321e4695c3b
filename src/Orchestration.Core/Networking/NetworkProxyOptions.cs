namespace Orchestration.Networking;

/// <summary>How a worker's network proxy keeps its node's data plane in step with the cluster's Services.</summary>
public sealed class NetworkProxyOptions
{
    /// <summary>The node the proxy runs on (for the Local traffic policies); the worker's node name when empty.</summary>
    public string NodeName { get; set; } = "";

    /// <summary>
    /// The shortest time between two syncs (kube-proxy's <c>--min-sync-period</c>): changes that
    /// arrive within it go out together in the next sync.
    /// </summary>
    public TimeSpan MinSyncInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait before a failed sync is tried again (the wait doubles from <see cref="MinSyncInterval"/> up to it).</summary>
    public TimeSpan MaxRetryInterval { get; set; } = TimeSpan.FromSeconds(30);
}
