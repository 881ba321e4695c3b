using System.Runtime.InteropServices;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// nftables' own library (libnftables, which the nft command is built on), driven in this process:
/// a script is one transaction, as with <c>nft -f</c>, without starting a process each time. The
/// library is loaded from the configured path, and its context (with its netlink socket) is made on
/// a <see cref="NamespaceThread"/> and used only there, so it acts in the node's namespace.
/// </summary>
internal sealed unsafe class Libnftables : IDisposable
{
    private readonly string _libraryPath;
    private readonly NamespaceThread _thread;
    private nint _library;
    private nint _context;
    private delegate* unmanaged<nint, void> _free;
    private delegate* unmanaged<nint, nint> _errorBuffer;
    private delegate* unmanaged<nint, nint> _outputBuffer;
    private delegate* unmanaged<nint, nint, int> _run;

    public Libnftables(string libraryPath, NamespaceThread thread)
    {
        _libraryPath = libraryPath;
        _thread = thread;
    }

    /// <summary>
    /// Applies <paramref name="script"/> as one transaction; returns whether it applied, what it
    /// printed (for <c>list</c> commands) and, if it failed, nft's error text.
    /// </summary>
    /// <exception cref="DllNotFoundException">The library cannot be loaded (nftables is not installed).</exception>
    /// <exception cref="IOException">The namespace cannot be entered.</exception>
    public Task<(bool Ok, string Output, string Error)> RunAsync(string script) => _thread.RunAsync(() =>
    {
        EnsureContext();
        var buffer = Marshal.StringToCoTaskMemUTF8(script);
        try
        {
            var result = _run(_context, buffer);
            var output = Marshal.PtrToStringUTF8(_outputBuffer(_context)) ?? "";
            var error = Marshal.PtrToStringUTF8(_errorBuffer(_context)) ?? "";
            return (result == 0, output, error);
        }
        finally
        {
            Marshal.FreeCoTaskMem(buffer);
        }
    });

    /// <summary>Loads the library and makes the context now, so a missing library is found before any sync.</summary>
    /// <exception cref="DllNotFoundException">The library cannot be loaded.</exception>
    public Task<bool> LoadAsync() => _thread.RunAsync(() =>
    {
        EnsureContext();
        return true;
    });

    /// <summary>Writes a sysctl file under /proc/sys/net from inside the namespace (procfs resolves it by the writer's namespace); false when it does not exist.</summary>
    public Task<bool> WriteSysctlAsync(string path, string value) => _thread.RunAsync(() =>
    {
        if (!File.Exists(path))
        {
            return false;
        }

        File.WriteAllText(path, value);
        return true;
    });

    public void Dispose()
    {
        // The context belongs to the thread's namespace: it is freed there, then the thread ends.
        _ = _thread.RunAsync(() =>
        {
            if (_context != 0)
            {
                _free(_context);
                _context = 0;
            }

            if (_library != 0)
            {
                NativeLibrary.Free(_library);
                _library = 0;
            }

            return true;
        });
        _thread.Dispose();
    }

    private void EnsureContext()
    {
        if (_context != 0)
        {
            return;
        }

        if (_library == 0)
        {
            _library = NativeLibrary.Load(_libraryPath);
            _free = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(_library, "nft_ctx_free");
            _errorBuffer = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(_library, "nft_ctx_get_error_buffer");
            _outputBuffer = (delegate* unmanaged<nint, nint>)NativeLibrary.GetExport(_library, "nft_ctx_get_output_buffer");
            _run = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(_library, "nft_run_cmd_from_buffer");
        }

        var create = (delegate* unmanaged<uint, nint>)NativeLibrary.GetExport(_library, "nft_ctx_new");
        var bufferOutput = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(_library, "nft_ctx_buffer_output");
        var bufferError = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(_library, "nft_ctx_buffer_error");
        var context = create(0);
        if (context == 0)
        {
            throw new InvalidOperationException("nft_ctx_new returned no context");
        }

        // Output and errors go to buffers of the context, not to this process's stdout and stderr.
        bufferOutput(context);
        bufferError(context);
        _context = context;
    }
}
