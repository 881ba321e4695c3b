using System.Globalization;
using Microsoft.Extensions.Logging;


namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>Named network namespaces (<c>ip netns</c>), in which a node's daemon and its pods run apart from the host's network.</summary>
public static partial class NetworkNamespaces
{
    /// <summary>The namespace as a path, for <c>nsenter --net=</c> and setns.</summary>
    public static string PathOf(string name) => $"/var/run/netns/{name}";

    /// <summary>A fresh name, <c>orch-</c> and 8 hex digits.</summary>
    public static string FreshName() => $"orch-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Whether the namespace exists.</summary>
    public static bool Exists(string name) => File.Exists(PathOf(name));

    /// <summary>Creates the namespace with its loopback up.</summary>
    /// <exception cref="InvalidOperationException"><c>ip</c> failed (the message has its output).</exception>
    public static async Task CreateAsync(string name, CancellationToken cancellationToken)
    {
        await ProcessRunner.RunCheckedAsync("ip", ["netns", "add", name], cancellationToken).ConfigureAwait(false);
        await ProcessRunner.RunCheckedAsync("ip", ["-n", name, "link", "set", "lo", "up"], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the namespace; a failure is logged, not thrown, since this runs in cleanup.</summary>
    public static async Task DeleteAsync(string name, ILogger logger, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await ProcessRunner.RunAsync("ip", ["netns", "delete", name], cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            LogDeleteFailed(logger, name, output.Trim());
        }
    }

    /// <summary>The names of the namespaces the process runs in (<c>ip</c> compares namespace inodes).</summary>
    public static async Task<IReadOnlyList<string>> OfProcessAsync(int pid, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await ProcessRunner.RunAsync("ip", ["netns", "identify", pid.ToString(CultureInfo.InvariantCulture)], cancellationToken).ConfigureAwait(false);
        return exitCode == 0 ? output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];
    }

    /// <summary>
    /// Kills what still runs in the namespace (for example port proxies that outlive a killed daemon),
    /// which would otherwise keep it alive after it is deleted. This process is spared.
    /// </summary>
    public static async Task KillProcessesInAsync(string name, ILogger logger, TimeProvider time, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await ProcessRunner.RunAsync("ip", ["netns", "pids", name], cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            return;
        }

        var pids = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : 0)
            .Where(pid => pid > 0 && pid != Environment.ProcessId)
            .ToList();
        foreach (var pid in pids)
        {
            LogKillingLeftover(logger, pid, name);
            ProcessTable.Signal(pid, ProcessTable.Sigkill);
        }

        foreach (var pid in pids)
        {
            await DaemonProcess.ExitedWithinAsync(pid, TimeSpan.FromSeconds(5), time, null, cancellationToken).ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 4030, Level = LogLevel.Warning, Message = "Could not delete network namespace {Namespace}: {Output}")]
    private static partial void LogDeleteFailed(ILogger logger, string @namespace, string output);

    [LoggerMessage(EventId = 4031, Level = LogLevel.Warning, Message = "Killing process {Pid} left in network namespace {Namespace}")]
    private static partial void LogKillingLeftover(ILogger logger, int pid, string @namespace);
}
