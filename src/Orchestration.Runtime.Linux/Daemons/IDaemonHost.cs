namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>
/// A runtime daemon (containerd, dockerd) that a node runs for itself, in a network namespace of its
/// own, with its state under a data directory. It outlives the process that started it, as a
/// runtime outlives kubelet: a host started again on the same directory adopts it with its
/// containers. Disposing stops it and removes what it ran; <see cref="DetachAsync"/> leaves it for
/// the next host.
/// </summary>
public interface IDaemonHost : IAsyncDisposable
{
    /// <summary>The directory holding the daemon's state, socket and log.</summary>
    string DataDirectory { get; }

    /// <summary>The daemon's API socket.</summary>
    string SocketPath { get; }

    /// <summary>The network namespace the daemon and its pods run in (<c>ip netns</c> name).</summary>
    string NetworkNamespace { get; }

    /// <summary>The daemon's PID, while it runs.</summary>
    int? ProcessId { get; }

    /// <summary>Whether the daemon was left running by a previous host and taken over, with its containers.</summary>
    bool Adopted { get; }

    /// <summary>Lets go of the daemon without stopping it, for the next host on the data directory; disposing does nothing afterwards.</summary>
    ValueTask DetachAsync();

    /// <summary>
    /// Starts the daemon again when it has exited (killed, crashed) while this host holds it, as a
    /// supervisor (systemd) would: what it left (shims, containers, run state) is removed and a new
    /// daemon starts in the same network namespace, so its runtime's socket and probes keep working;
    /// the node agent then starts the pods again. Returns whether it restarted it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The new daemon did not come up (its log is in the message).</exception>
    Task<bool> RestartIfExitedAsync(CancellationToken cancellationToken);
}
