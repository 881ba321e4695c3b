namespace Orchestration.Runtime;

/// <summary>
/// Exec, attach and port-forward for a runtime that has no streaming server of its own (Docker):
/// the node agent speaks kubectl's stream protocols itself and hands the runtime plain streams.
/// Runtimes with a CRI streaming server implement <see cref="IStreamingRuntime"/> instead.
/// </summary>
public interface IContainerStreams
{
    /// <summary>Runs <paramref name="command"/> in a running container, wired to <paramref name="streams"/>; returns its exit code.</summary>
    Task<int> ExecAsync(string containerId, IReadOnlyList<string> command, ContainerStreams streams, CancellationToken cancellationToken);

    /// <summary>Attaches <paramref name="streams"/> to the container's main process until it ends or the caller cancels; returns its exit code when it ended.</summary>
    Task<int?> AttachAsync(string containerId, ContainerStreams streams, CancellationToken cancellationToken);

    /// <summary>Opens a connection to <paramref name="port"/> of the pod whose sandbox is <paramref name="sandboxId"/>.</summary>
    Task<Stream> ConnectToPodAsync(string sandboxId, int port, CancellationToken cancellationToken);
}

/// <summary>The streams of one exec or attach; a null stream is not asked for.</summary>
public sealed class ContainerStreams
{
    /// <summary>What the user types, ending when stdin closes.</summary>
    public Stream? Stdin { get; init; }

    /// <summary>Where standard output goes (with a tty, standard error too).</summary>
    public Stream? Stdout { get; init; }

    /// <summary>Where standard error goes; never with a tty.</summary>
    public Stream? Stderr { get; init; }

    /// <summary>Whether the process gets a terminal.</summary>
    public bool Tty { get; init; }

    /// <summary>Terminal sizes as the user resizes, when <see cref="Tty"/>.</summary>
    public IAsyncEnumerable<TerminalSize>? Resizes { get; init; }
}

/// <summary>A terminal's size in characters.</summary>
/// <param name="Width">Columns.</param>
/// <param name="Height">Rows.</param>
public sealed record TerminalSize(ushort Width, ushort Height);
