namespace Orchestration.Networking;

/// <summary>
/// kube-proxy's job on one node: make the node's data plane match the desired
/// <see cref="ServiceTable"/>, so that a connection to a Service's virtual address (its cluster IP, a
/// node port, an external or load-balancer IP) reaches one of its endpoints. The table is computed
/// once in Core from Services and EndpointSlices, so every implementation gets the same input; the
/// network proxy conformance kit in the TestKit package runs against each of them.
/// </summary>
public interface INetworkProxy
{
    /// <summary>
    /// Makes the data plane serve <paramref name="table"/> and nothing else. It is called with the whole
    /// table each time; an implementation rewrites only what changed since its last successful sync.
    /// A failure throws and leaves what the last successful sync programmed in place; the next call
    /// starts from that.
    /// </summary>
    /// <exception cref="NetworkProxyException">The data plane refused the change (the message says why and what to do).</exception>
    Task SyncAsync(ServiceTable table, CancellationToken cancellationToken);

    /// <summary>Removes everything the proxy programmed (a graceful stop). A proxy that is killed instead leaves it for the next one, which takes it over at its first sync.</summary>
    Task CleanUpAsync(CancellationToken cancellationToken);
}
