using System.Net;
using System.Net.Sockets;
using Orchestration.Runtime.Linux;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>
/// A network namespace of the test's own standing in for a node: a veth "pods" link with endpoint
/// addresses (10.244.0.2-4) and a client address (10.244.0.100), a veth "uplink" with the node's address
/// (192.168.77.1), and a route for the service CIDR (10.96.0.0/12) as a node's default route would
/// give. Nothing outside the namespace is touched; disposing deletes it.
/// </summary>
public sealed class TestNetwork : IAsyncDisposable
{
    private TestNetwork(string name)
    {
        Name = name;
        Sockets = new NamespaceSockets(Path);
    }

    /// <summary>The namespace's name.</summary>
    public string Name { get; }

    /// <summary>The namespace as a path.</summary>
    public string Path => $"/var/run/netns/{Name}";

    /// <summary>Sockets inside the namespace.</summary>
    public NamespaceSockets Sockets { get; }

    /// <summary>Where backends listen.</summary>
    public IReadOnlyList<IPAddress> EndpointAddresses { get; } = [IPAddress.Parse("10.244.0.2"), IPAddress.Parse("10.244.0.3"), IPAddress.Parse("10.244.0.4")];

    /// <summary>Where clients connect from.</summary>
    public IPAddress ClientAddress { get; } = IPAddress.Parse("10.244.0.100");

    /// <summary>The node's own address.</summary>
    public IPAddress NodeAddress { get; } = IPAddress.Parse("192.168.77.1");

    /// <summary>The pod CIDR the addresses come from.</summary>
    public const string ClusterCidr = "10.244.0.0/16";

    /// <summary>The <paramref name="index"/>th service address, from 10.96.0.0/12.</summary>
    public static IPAddress ServiceAddress(int index) => IPAddress.Parse($"10.96.{index / 250}.{(index % 250) + 1}");

    /// <summary>Creates the namespace and its links.</summary>
    public static async Task<TestNetwork> CreateAsync(bool serviceCidrIsLocal = false)
    {
        var name = $"orch-t{Guid.NewGuid().ToString("N")[..8]}";
        await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", name], CancellationToken.None);
        var network = new TestNetwork(name);
        try
        {
            string[] commands =
            [
                "link set lo up",
                "link add pods type veth peer name pods-peer",
                "link set pods up",
                "link set pods-peer up",
                "address add 10.244.0.2/24 dev pods",
                "address add 10.244.0.3/24 dev pods",
                "address add 10.244.0.4/24 dev pods",
                "address add 10.244.0.100/24 dev pods",
                "link add uplink type veth peer name uplink-peer",
                "link set uplink up",
                "link set uplink-peer up",
                "address add 192.168.77.1/24 dev uplink",

                // The userspace proxy listens on the service addresses themselves: the whole CIDR is local.
                serviceCidrIsLocal ? "route add local 10.96.0.0/12 dev lo" : "route add 10.96.0.0/12 dev pods",
            ];
            await ProcessRunner.RunCheckedAsync("ip", ["-n", name, "-batch", "-"], CancellationToken.None, string.Join('\n', commands) + "\n");
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>A socket in the namespace.</summary>
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) => Sockets.Create(family, type, protocol);

    /// <summary>Runs a command inside the namespace and returns its output.</summary>
    public Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments) =>
        ProcessRunner.RunAsync("nsenter", [$"--net={Path}", file, .. arguments], CancellationToken.None);

    /// <summary>Deletes the namespace.</summary>
    public async ValueTask DisposeAsync()
    {
        Sockets.Dispose();
        await ProcessRunner.RunAsync("ip", ["netns", "delete", Name], CancellationToken.None);
    }
}
