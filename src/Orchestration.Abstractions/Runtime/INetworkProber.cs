namespace Orchestration.Runtime;

/// <summary>
/// Runs the network probes of a pod's containers (httpGet and tcpSocket), as the node agent does
/// from the node against the pod's IP. The default connects for real; a simulated runtime answers
/// from the health it was told, so probes can be tested without containers.
/// </summary>
public interface INetworkProber
{
    /// <summary>Runs one probe; a timeout or a refused connection is a failure, never an exception.</summary>
    Task<ProbeResult> ProbeAsync(NetworkProbe probe, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>One network probe of a container.</summary>
/// <param name="ContainerId">The container probed (a real network ignores it; a simulated one answers by it).</param>
/// <param name="Host">Where to connect: the pod's IP unless the probe names a host.</param>
/// <param name="Port">The port.</param>
/// <param name="HttpPath">The path of an httpGet probe, or null for a tcpSocket probe.</param>
/// <param name="Scheme"><c>HTTP</c> or <c>HTTPS</c> for an httpGet probe.</param>
/// <param name="Headers">Extra request headers of an httpGet probe.</param>
public sealed record NetworkProbe(string ContainerId, string Host, int Port, string? HttpPath, string Scheme, IReadOnlyDictionary<string, string> Headers);

/// <summary>What a probe found.</summary>
/// <param name="Success">Whether the container passed.</param>
/// <param name="Output">Why it failed, in the words <c>kubectl describe</c> shows after "probe failed:".</param>
public sealed record ProbeResult(bool Success, string Output);
