using System.Runtime.InteropServices;

namespace Orchestration.Runtime.Docker;

/// <summary>The Linux call .NET has no API for: signalling a PID that is not this process's child.</summary>
internal static partial class NativeMethods
{
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}
