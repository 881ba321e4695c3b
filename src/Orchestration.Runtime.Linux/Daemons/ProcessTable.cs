using System.Globalization;
using System.Runtime.InteropServices;

namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>
/// The machine's processes as <c>/proc</c> shows them, and signals to them by PID. A daemon host
/// must find and stop processes that are not its children (a daemon adopted from an earlier run,
/// shims that outlived their daemon), which .NET's <c>Process</c> cannot do reliably.
/// </summary>
public static partial class ProcessTable
{
    /// <summary>SIGTERM.</summary>
    public const int Sigterm = 15;

    /// <summary>SIGKILL.</summary>
    public const int Sigkill = 9;

    /// <summary>Whether the PID exists and has not exited (a zombie waiting to be reaped has).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");

            // "pid (comm) S ...": the command may hold spaces and parentheses, the state follows the last ')'.
            var state = stat[(stat.LastIndexOf(')') + 2)..];
            return state.Length > 0 && state[0] is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>The process's arguments (empty when it is gone).</summary>
    public static string[] Arguments(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Every process: its PID, its parent's, and its command line with the arguments joined by spaces.</summary>
    public static List<HostProcess> List()
    {
        var list = new List<HostProcess>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture);
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                list.Add(new HostProcess(pid, parent, commandLine));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // Gone meanwhile.
            }
        }

        return list;
    }

    /// <summary>Sends the signal; a PID that is gone is not an error.</summary>
    public static void Signal(int pid, int signal) => _ = Kill(pid, signal);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>A process of the machine.</summary>
/// <param name="Pid">Its PID.</param>
/// <param name="ParentPid">Its parent's PID.</param>
/// <param name="CommandLine">Its arguments joined by spaces.</param>
public sealed record HostProcess(int Pid, int ParentPid, string CommandLine);
