using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// A thread that enters a network namespace once (setns) and runs the work it is given there, one
/// item at a time. What such work creates (sockets, netlink sockets of a library) belongs to the
/// namespace and stays usable from any thread. Needs root when a namespace is given.
/// </summary>
public sealed partial class NamespaceThread : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly string? _namespacePath;
    private readonly BlockingCollection<Action<Exception?>> _work = new();
    private readonly Lazy<Thread> _thread;

    /// <summary>A thread in <paramref name="namespacePath"/> (<c>/var/run/netns/NAME</c>), or in this process's own namespace when null.</summary>
    public NamespaceThread(string? namespacePath)
    {
        _namespacePath = namespacePath;
        _thread = new Lazy<Thread>(StartThread, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The namespace, or null for this process's own.</summary>
    public string? NamespacePath => _namespacePath;

    /// <summary>Runs <paramref name="work"/> on the thread, inside the namespace.</summary>
    /// <exception cref="IOException">The namespace cannot be entered (it is gone, or this process is not root).</exception>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        _ = _thread.Value;
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(failure =>
        {
            if (failure is not null)
            {
                result.SetException(failure);
                return;
            }

            try
            {
                result.SetResult(work());
            }
            catch (Exception ex)
            {
                result.SetException(ex);
            }
        });
        return result.Task;
    }

    /// <summary>Ends the thread once the work given so far has run.</summary>
    public void Dispose() => _work.CompleteAdding();

    private Thread StartThread()
    {
        var thread = new Thread(Run) { IsBackground = true, Name = "netns work" };
        thread.Start();
        return thread;
    }

    private void Run()
    {
        Exception? failure = null;
        if (_namespacePath is not null)
        {
            try
            {
                using var ns = File.OpenHandle(_namespacePath, FileMode.Open, FileAccess.Read);
                if (SetNs((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    failure = new IOException($"cannot enter the network namespace {_namespacePath} (setns: errno {Marshal.GetLastPInvokeError()}); this needs root");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                failure = new IOException($"cannot open the network namespace {_namespacePath}: {ex.Message}", ex);
            }
        }

        // This thread never leaves the namespace: it ends when disposed.
        foreach (var work in _work.GetConsumingEnumerable())
        {
            work(failure);
        }
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}
