using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>Starting a runtime daemon so that it outlives this process, waiting until it answers, and stopping it by PID.</summary>
public static partial class DaemonProcess
{
    /// <summary>
    /// Starts <paramref name="arguments"/> (the daemon and its flags) inside the network namespace at
    /// <paramref name="namespacePath"/>, so that it does not depend on this process staying alive:
    /// its output goes to <paramref name="logPath"/>, not to a pipe (a Go program writing to a pipe
    /// nobody reads dies of SIGPIPE), and it gets a session of its own, so neither a terminal's Ctrl-C
    /// nor its hangup reaches it. nsenter, not <c>ip netns exec</c>: the latter remounts /sys and hides
    /// the cgroup mounts runc needs. sh, setsid (no fork: sh is not a group leader) and nsenter each
    /// exec in place, so the returned process's PID is the daemon's own.
    /// </summary>
    public static Process StartDetached(string logPath, string namespacePath, IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var argument in new[] { "-c", "log=$1; shift; exec setsid \"$@\" </dev/null >>\"$log\" 2>&1", "orch-daemon", logPath, "nsenter", $"--net={namespacePath}" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("sh did not start");
    }

    /// <summary>
    /// Waits for <paramref name="connect"/> (which retries until the daemon answers on its socket or
    /// throws <see cref="IOException"/>), giving up at once if the daemon exits first, so a bad flag
    /// or config fails fast.
    /// </summary>
    /// <exception cref="InvalidOperationException">The daemon did not come up; the message ends with its log's tail.</exception>
    public static async Task WaitUntilAnswersAsync(Process daemon, string name, string socketPath, string logPath, Func<CancellationToken, Task> connect, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(daemon);
        ArgumentNullException.ThrowIfNull(connect);
        using var exited = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = WatchExitAsync(daemon, exited);
        try
        {
            await connect(exited.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"{name} did not come up on {socketPath}: {ex.Message}\n--- its log ({logPath}):\n{Tail(logPath)}", ex);
        }
        finally
        {
            await exited.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// SIGTERM, then SIGKILL after <paramref name="stopTimeout"/>. The process may not be this one's
    /// child (an adopted daemon), so its exit is watched through <c>/proc</c>; when it is,
    /// <paramref name="child"/> lets its exit be seen before it is reaped.
    /// </summary>
    public static async Task StopAsync(int pid, string what, TimeSpan stopTimeout, TimeProvider time, ILogger logger, Process? child, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logger);

        // A child that has exited (and been reaped) may have its PID taken by an unrelated process already.
        if (!ProcessTable.IsRunning(pid) || (child is not null && child.Id == pid && child.HasExited))
        {
            return;
        }

        ProcessTable.Signal(pid, ProcessTable.Sigterm);
        if (await ExitedWithinAsync(pid, stopTimeout, time, child, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        LogKilling(logger, what, pid, stopTimeout);
        ProcessTable.Signal(pid, ProcessTable.Sigkill);
        if (!await ExitedWithinAsync(pid, TimeSpan.FromSeconds(10), time, child, cancellationToken).ConfigureAwait(false))
        {
            LogStillThereAfterKill(logger, what, pid);
        }
    }

    /// <summary>Whether the process is gone within the time (polled every 20 ms).</summary>
    public static async Task<bool> ExitedWithinAsync(int pid, TimeSpan timeout, TimeProvider time, Process? child, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(time);
        var deadline = time.GetUtcNow() + timeout;
        while (ProcessTable.IsRunning(pid))
        {
            // A child of this process that has exited is seen through its Process before /proc catches up.
            if (child is not null && child.Id == pid && child.HasExited)
            {
                return true;
            }

            if (time.GetUtcNow() >= deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), time, cancellationToken).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>The last lines of a daemon's log, for an error message.</summary>
    public static string Tail(string logPath, int lines = 30)
    {
        try
        {
            using var stream = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return string.Join('\n', reader.ReadToEnd().Split('\n').TakeLast(lines));
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    private static async Task WatchExitAsync(Process process, CancellationTokenSource exited)
    {
        try
        {
            await process.WaitForExitAsync(exited.Token).ConfigureAwait(false);
            await exited.CancelAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The wait ended first.
        }
    }

    [LoggerMessage(EventId = 4020, Level = LogLevel.Warning, Message = "{What} (pid {Pid}) did not stop within {Timeout}; killing it")]
    private static partial void LogKilling(ILogger logger, string what, int pid, TimeSpan timeout);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Warning, Message = "{What} (pid {Pid}) is still there 10 s after SIGKILL")]
    private static partial void LogStillThereAfterKill(ILogger logger, string what, int pid);
}
