namespace Orchestration.Runtime;

/// <summary>
/// A runtime behind a daemon (containerd, dockerd): reached once at start, which also learns the
/// version the Node reports. A host calls it before the node agent runs; when the daemon does not
/// answer in time the agent still runs and the node is NotReady until it does.
/// </summary>
public interface IRuntimeConnection
{
    /// <summary>Asks the daemon for its version, retrying until it answers or <paramref name="timeout"/> passes.</summary>
    /// <exception cref="IOException">The daemon did not answer in time.</exception>
    Task ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken);
}
