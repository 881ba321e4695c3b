namespace Orchestration.Runtime;

/// <summary>
/// The streaming half of a runtime, shaped like the CRI's: exec, attach and port-forward each return
/// the URL of a streaming server that speaks kubectl's stream protocols (SPDY/3.1 and WebSocket
/// channels) itself; the node agent proxies kubectl's upgraded connection to it, as kubelet does.
/// </summary>
public interface IStreamingRuntime
{
    /// <summary>Prepares a command to run in a running container (CRI's Exec).</summary>
    /// <returns>The streaming server URL that runs it when connected to.</returns>
    Task<Uri> ExecAsync(string containerId, StreamingOptions options, IReadOnlyList<string> command, CancellationToken cancellationToken);

    /// <summary>Prepares an attach to a running container's main process (CRI's Attach).</summary>
    Task<Uri> AttachAsync(string containerId, StreamingOptions options, CancellationToken cancellationToken);

    /// <summary>Prepares forwarding of a pod's ports (CRI's PortForward).</summary>
    Task<Uri> PortForwardAsync(string sandboxId, IReadOnlyList<int> ports, CancellationToken cancellationToken);

    /// <summary>
    /// A connection to the streaming server behind <paramref name="url"/>. It may live where the
    /// caller cannot dial directly (containerd's listens inside its network namespace).
    /// </summary>
    Task<Stream> OpenStreamAsync(Uri url, CancellationToken cancellationToken);
}

/// <summary>Which streams an exec or attach carries.</summary>
/// <param name="Stdin">Whether standard input is sent.</param>
/// <param name="Stdout">Whether standard output comes back.</param>
/// <param name="Stderr">Whether standard error comes back (never with a tty, which merges it into stdout).</param>
/// <param name="Tty">Whether the process gets a terminal.</param>
public sealed record StreamingOptions(bool Stdin, bool Stdout, bool Stderr, bool Tty);
