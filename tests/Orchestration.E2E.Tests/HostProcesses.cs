using System.Diagnostics;
using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>What the tests look at on the machine: processes by PID and command line, network namespaces, commands' output.</summary>
internal static class HostProcesses
{
    /// <summary>Whether the PID exists and has not exited (a zombie has).</summary>
    public static bool IsRunning(int pid) => ProcessTable.IsRunning(pid);

    /// <summary>The containerd shims whose command line names a path under <paramref name="directory"/> (their daemon's socket lives there).</summary>
    public static List<int> Shims(string directory) =>
        ProcessTable.List().Where(p => p.CommandLine.Contains("containerd-shim", StringComparison.Ordinal) && p.CommandLine.Contains(directory, StringComparison.Ordinal)).Select(p => p.Pid).ToList();

    /// <summary>The processes whose parent is one of <paramref name="parents"/>: under a shim, its containers.</summary>
    public static List<int> ChildrenOf(IReadOnlyCollection<int> parents) =>
        ProcessTable.List().Where(p => parents.Contains(p.ParentPid)).Select(p => p.Pid).ToList();

    /// <summary>The network namespace the process runs in, as the kernel names it (<c>net:[inode]</c>), or "" when it is gone.</summary>
    public static string NetworkNamespaceOf(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/ns/net").LinkTarget ?? "";
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>The named network namespaces (<c>ip netns</c>) the processes run in.</summary>
    public static async Task<List<string>> NamedNamespacesOfAsync(IEnumerable<int> pids)
    {
        var names = new List<string>();
        foreach (var pid in pids)
        {
            names.AddRange(await NetworkNamespaces.OfProcessAsync(pid, CancellationToken.None));
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
}
