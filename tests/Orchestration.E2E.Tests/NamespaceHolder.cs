using System.Diagnostics;
using System.Globalization;

namespace Orchestration.E2E.Tests;

/// <summary>
/// A process of the test's own inside a node's network namespace (<c>ip netns exec</c>), so that the
/// namespace outlives orch deleting its name, and commands can still be run in it through the
/// process's <c>/proc/PID/ns/net</c>. Ended by PID on dispose.
/// </summary>
internal class NamespaceHolder : IDisposable
{
    private readonly Process _process;

    protected NamespaceHolder(Process process) => _process = process;

    /// <summary>The holder's PID.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Holds <paramref name="netns"/> with a process that waits on its standard input.</summary>
    public static async Task<NamespaceHolder> StartAsync(string netns)
    {
        var holder = new NamespaceHolder(Start(netns, "cat"));
        await holder.WaitUntilInNamespaceAsync(netns);
        return holder;
    }

    /// <summary>Runs a command in the held namespace and returns its standard output.</summary>
    public Task<string> RunAsync(string file, params string[] args) =>
        HostProcesses.RunAsync("nsenter", [$"--net=/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/ns/net", file, .. args]);

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5_000);
        }

        _process.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Starts <paramref name="command"/> in the namespace with its standard input a pipe of the test's.</summary>
    protected static Process Start(string netns, params string[] command)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", netns }.Concat(command))
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start)!;
    }

    /// <summary>The standard input of the held process.</summary>
    protected StreamWriter Input => _process.StandardInput;

    /// <summary>Whether the held process has ended.</summary>
    protected bool HasExited => _process.HasExited;

    private async Task WaitUntilInNamespaceAsync(string netns)
    {
        // ip execs the command after entering the namespace: the holder is in it once its namespace
        // is the named one's.
        var named = new FileInfo(Orchestration.Runtime.Linux.Daemons.NetworkNamespaces.PathOf(netns));
        var target = await HostProcesses.RunAsync("stat", "-L", "-c", "%i", named.FullName);
        (await Orchestration.TestKit.Eventually.HoldsAsync(
            async () => !_process.HasExited && (await HostProcesses.RunAsync("stat", "-L", "-c", "%i", $"/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/ns/net")) == target,
            100,
            TimeSpan.FromMilliseconds(50))).Should().BeTrue($"the holder entered {netns}");
    }
}

/// <summary>
/// An nft table of another owner (<c>flags owner</c>: only the process that made it may change it,
/// and it goes when that process exits) under a name the proxy uses, held by an interactive
/// <c>nft</c> of the test's: nftables refuses the proxy's transaction while it is there.
/// </summary>
internal sealed class NftTableSquatter : NamespaceHolder
{
    private NftTableSquatter(Process process)
        : base(process)
    {
    }

    /// <summary>Deletes the proxy's table <paramref name="table"/> in <paramref name="netns"/> and takes its name with a table it owns.</summary>
    public static async Task<NftTableSquatter> StartAsync(string netns, string table)
    {
        await HostProcesses.RunAsync("ip", "netns", "exec", netns, "nft", "delete", "table", "ip", table);
        var squatter = new NftTableSquatter(Start(netns, "nft", "-i"));
        await squatter.Input.WriteLineAsync($"add table ip {table} {{ flags owner; }}");
        await squatter.Input.FlushAsync();
        (await Orchestration.TestKit.Eventually.HoldsAsync(
            async () => (await squatter.RunAsync("nft", "list", "table", "ip", table)).Contains("flags owner", StringComparison.Ordinal),
            100,
            TimeSpan.FromMilliseconds(50))).Should().BeTrue($"the squatting table {table} is in place");
        return squatter;
    }

    /// <summary>Ends the owning nft (its input closes), and with it the table.</summary>
    public void Release()
    {
        Input.Close();
        (!HasExited).Should().BeTrue("nft was holding the table until now");
    }
}
