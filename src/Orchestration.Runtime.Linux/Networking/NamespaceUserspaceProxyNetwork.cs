using System.Net;
using System.Net.Sockets;
using Orchestration.Networking;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// The userspace proxy's network on a node whose pods live in a namespace of its own: sockets made
/// there, and each virtual address made local there with a <c>local</c> route on its loopback (the
/// kernel then delivers traffic for it to the proxy's listeners, as kube-proxy's IPVS mode does with
/// its dummy link).
/// </summary>
public sealed class NamespaceUserspaceProxyNetwork(INodeNetworkNamespace? node) : IUserspaceProxyNetwork, IDisposable
{
    private readonly Lazy<NamespaceSockets> _sockets = new(() => new NamespaceSockets(node?.NetworkNamespacePath));
    private readonly HashSet<IPAddress> _local = [];

    /// <inheritdoc />
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => _sockets.Value.Create(family, type, protocol);

    /// <inheritdoc />
    public async Task AcceptAddressesAsync(IReadOnlyCollection<IPAddress> addresses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        if (node?.NetworkNamespacePath is not { } path)
        {
            // This process's own namespace is the machine's: its addresses are not this proxy's to change.
            return;
        }

        var wanted = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)).ToHashSet();
        var commands = wanted.Except(_local).Select(a => $"route replace local {a}/32 dev lo table local")
            .Concat(_local.Except(wanted).Select(a => $"route del local {a}/32 dev lo table local"))
            .ToList();
        if (commands.Count == 0)
        {
            return;
        }

        var (exitCode, output) = await ProcessRunner.RunAsync("nsenter", [$"--net={path}", "ip", "-force", "-batch", "-"], string.Join('\n', commands) + "\n", cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new NetworkProxyException($"could not make the Service addresses local in network namespace {path}: {output.Trim()}");
        }

        _local.Clear();
        _local.UnionWith(wanted);
    }

    /// <summary>Ends the namespace's socket thread.</summary>
    public void Dispose()
    {
        if (_sockets.IsValueCreated)
        {
            _sockets.Value.Dispose();
        }
    }
}
