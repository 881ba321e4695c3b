using System.Diagnostics;
using System.Globalization;

namespace Orchestration.E2E.Tests;

/// <summary>What the tests look at on the machine: processes by PID and command line, network namespaces, commands' output.</summary>
internal static class HostProcesses
{
    /// <summary>Whether the PID exists and has not exited (a zombie has).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The process's command line, arguments joined by spaces ("" when it is gone).</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>The containerd shims of the containerd at <paramref name="socket"/> (they name it in their command line).</summary>
    public static List<int> Shims(string socket) =>
        All().Where(p => p.CommandLine.Contains("containerd-shim", StringComparison.Ordinal) && p.CommandLine.Contains(socket, StringComparison.Ordinal)).Select(p => p.Pid).ToList();

    /// <summary>The processes whose parent is one of <paramref name="parents"/>: under a shim, its containers.</summary>
    public static List<int> ChildrenOf(IReadOnlyCollection<int> parents) =>
        All().Where(p => parents.Contains(p.ParentPid)).Select(p => p.Pid).ToList();

    /// <summary>The named network namespaces the processes run in.</summary>
    public static async Task<List<string>> NamespacesOfAsync(IEnumerable<int> pids)
    {
        var names = new List<string>();
        foreach (var pid in pids)
        {
            names.AddRange((await RunAsync("ip", "netns", "identify", pid.ToString(CultureInfo.InvariantCulture))).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        return names.Distinct().ToList();
    }

    /// <summary>Runs a command to its end (30 s at most) and returns its standard output.</summary>
    public static async Task<string> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        _ = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return await output;
    }

    private static List<(int Pid, int ParentPid, string CommandLine)> All()
    {
        var list = new List<(int, int, string)>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                list.Add((pid, parent, CommandLine(pid)));
            }
            catch (IOException)
            {
                // Gone meanwhile.
            }
        }

        return list;
    }
}
