using System.Diagnostics;

namespace Orchestration.Runtime.Linux;

/// <summary>
/// Runs a short command to its end and keeps what it printed: the runtimes' hosts use it for the
/// node's tools (ip, nsenter, mount, ctr) around the daemons they start.
/// </summary>
public static class ProcessRunner
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="arguments"/>; returns its exit code and its output.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(file, arguments, input: null, cancellationToken);

    /// <summary>Runs <paramref name="file"/> with <paramref name="arguments"/>, writing <paramref name="input"/> (when not null) to its standard input; returns its exit code and its output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> arguments, string? input, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = input is not null,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input.AsMemory(), cancellationToken).ConfigureAwait(false);
            process.StandardInput.Close();
        }

        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        return (process.ExitCode, (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false)));
    }

    /// <summary>Runs the command and throws with its output when it fails.</summary>
    public static Task<string> RunCheckedAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken) =>
        RunCheckedAsync(file, arguments, cancellationToken, input: null);

    /// <summary>Runs the command with <paramref name="input"/> on its standard input and throws with its output when it fails.</summary>
    public static async Task<string> RunCheckedAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken, string? input)
    {
        var list = arguments.ToList();
        var (exitCode, output) = await RunAsync(file, list, input, cancellationToken).ConfigureAwait(false);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"`{file} {string.Join(' ', list)}` exited with {exitCode}: {output.Trim()}");
        }

        return output;
    }
}
