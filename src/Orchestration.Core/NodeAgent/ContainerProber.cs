using k8s.Models;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// Runs one probe of a container the way its spec says: exec through the runtime's ExecSync,
/// httpGet and tcpSocket through an <see cref="INetworkProber"/> against the pod's IP.
/// </summary>
internal sealed class ContainerProber(INodeRuntime runtime, INetworkProber network)
{
    /// <summary>Runs <paramref name="probe"/> against a running container of a pod at <paramref name="podIp"/>.</summary>
    public async Task<ProbeResult> RunAsync(V1Probe probe, V1Container? container, string containerId, string podIp, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            if (probe.Exec is { } exec)
            {
                var command = exec.Command?.ToList() ?? [];
                try
                {
                    var result = await runtime.ExecSyncAsync(containerId, command, timeout, cancellationToken).ConfigureAwait(false);
                    return new ProbeResult(result.ExitCode == 0, result.ExitCode == 0 ? "" : result.Output);
                }
                catch (TimeoutException)
                {
                    return new ProbeResult(false, $"command \"{string.Join(' ', command)}\" timed out");
                }
            }

            if (probe.HttpGet is { } http)
            {
                var port = PortOf(http.Port, container);
                var headers = (http.HttpHeaders ?? []).ToDictionary(h => h.Name, h => h.Value, StringComparer.OrdinalIgnoreCase);
                var path = string.IsNullOrEmpty(http.Path) ? "/" : http.Path;
                return await network.ProbeAsync(new NetworkProbe(containerId, string.IsNullOrEmpty(http.Host) ? podIp : http.Host, port, path, http.Scheme ?? "HTTP", headers), timeout, cancellationToken).ConfigureAwait(false);
            }

            if (probe.TcpSocket is { } tcp)
            {
                var port = PortOf(tcp.Port, container);
                return await network.ProbeAsync(new NetworkProbe(containerId, string.IsNullOrEmpty(tcp.Host) ? podIp : tcp.Host, port, null, "TCP", new Dictionary<string, string>()), timeout, cancellationToken).ConfigureAwait(false);
            }

            return new ProbeResult(false, "the probe has no exec, httpGet or tcpSocket handler (grpc probes are not supported yet)");
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            // A container that stopped under the probe, or a named port it does not have: a failure the events show.
            return new ProbeResult(false, ex.Message);
        }
    }

    private static int PortOf(IntOrString port, V1Container? container)
    {
        var value = port?.Value ?? throw new ArgumentException("the probe names no port");
        if (int.TryParse(value, out var number))
        {
            return number;
        }

        return container?.Ports?.FirstOrDefault(p => p.Name == value)?.ContainerPort
            ?? throw new ArgumentException($"the container has no port named {value}");
    }
}
