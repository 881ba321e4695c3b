using System.Net.Sockets;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// Creates sockets inside a network namespace. A socket belongs to the namespace of the thread that
/// created it, so a <see cref="NamespaceThread"/> creates them; binding, connecting and talking then
/// happen on any thread. Probes, the cluster DNS and the userspace proxy use it to work among a
/// node's pods from this process. Needs root.
/// </summary>
public sealed class NamespaceSockets : IDisposable
{
    private readonly NamespaceThread _thread;

    /// <summary>Sockets in <paramref name="namespacePath"/> (<c>/var/run/netns/NAME</c>), or in this process's own namespace when null.</summary>
    public NamespaceSockets(string? namespacePath)
    {
        _thread = new NamespaceThread(namespacePath);
    }

    /// <summary>The namespace, or null for this process's own.</summary>
    public string? NamespacePath => _thread.NamespacePath;

    /// <summary>A new socket in the namespace.</summary>
    /// <exception cref="IOException">The namespace cannot be entered (it is gone, or this process is not root).</exception>
    public Task<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol) =>
        _thread.NamespacePath is null
            ? Task.FromResult(new Socket(family, type, protocol))
            : _thread.RunAsync(() => new Socket(family, type, protocol));

    /// <summary>A new socket in the namespace, waited for (creating one takes microseconds).</summary>
    /// <exception cref="IOException">The namespace cannot be entered.</exception>
    public Socket Create(AddressFamily family, SocketType type, ProtocolType protocol) =>
        CreateAsync(family, type, protocol).GetAwaiter().GetResult();

    /// <summary>Ends the namespace thread.</summary>
    public void Dispose() => _thread.Dispose();
}
