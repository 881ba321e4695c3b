using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// Creates sockets inside a network namespace. A socket belongs to the namespace of the thread that
/// created it, so one dedicated thread enters the namespace once (setns) and only creates sockets;
/// binding, connecting and talking then happen on any thread. Probes, the cluster DNS and the
/// userspace proxy use it to work among a node's pods from this process. Needs root.
/// </summary>
public sealed partial class NamespaceSockets : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly string? _namespacePath;
    private readonly BlockingCollection<(AddressFamily Family, SocketType Type, ProtocolType Protocol, TaskCompletionSource<Socket> Result)> _requests = new();
    private readonly Lazy<Thread> _thread;

    /// <summary>Sockets in <paramref name="namespacePath"/> (<c>/var/run/netns/NAME</c>), or in this process's own namespace when null.</summary>
    public NamespaceSockets(string? namespacePath)
    {
        _namespacePath = namespacePath;
        _thread = new Lazy<Thread>(StartThread, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The namespace, or null for this process's own.</summary>
    public string? NamespacePath => _namespacePath;

    /// <summary>A new socket in the namespace.</summary>
    /// <exception cref="IOException">The namespace cannot be entered (it is gone, or this process is not root).</exception>
    public Task<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol)
    {
        if (_namespacePath is null)
        {
            return Task.FromResult(new Socket(family, type, protocol));
        }

        _ = _thread.Value;
        var result = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Add((family, type, protocol, result));
        return result.Task;
    }

    /// <summary>A new socket in the namespace, waited for (creating one takes microseconds).</summary>
    /// <exception cref="IOException">The namespace cannot be entered.</exception>
    public Socket Create(AddressFamily family, SocketType type, ProtocolType protocol) =>
        CreateAsync(family, type, protocol).GetAwaiter().GetResult();

    /// <summary>Ends the namespace thread.</summary>
    public void Dispose() => _requests.CompleteAdding();

    private Thread StartThread()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "netns sockets" };
        thread.Start();
        return thread;
    }

    private void Run()
    {
        Exception? failure = null;
        try
        {
            using var ns = File.OpenHandle(_namespacePath!, FileMode.Open, FileAccess.Read);
            if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
            {
                failure = new IOException($"cannot enter the network namespace {_namespacePath} (setns: errno {Marshal.GetLastPInvokeError()}); this needs root");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            failure = new IOException($"cannot open the network namespace {_namespacePath}: {ex.Message}", ex);
        }

        // This thread never leaves the namespace and runs nothing else: it ends when disposed.
        foreach (var (family, type, protocol, result) in _requests.GetConsumingEnumerable())
        {
            if (failure is not null)
            {
                result.SetException(failure);
                continue;
            }

            try
            {
                result.SetResult(new Socket(family, type, protocol));
            }
            catch (SocketException ex)
            {
                result.SetException(ex);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
