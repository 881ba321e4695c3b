using System.Diagnostics;

namespace Orchestration.Testing.Daemons;

/// <summary>
/// Runs the real kubectl (the machine's dispatcher or one of its pinned versions) against a
/// kubeconfig, with a time limit.
/// </summary>
public sealed class Kubectl(string binary, string kubeconfig)
{
    /// <summary>The dispatcher and the oldest and newest pinned versions the machine carries.</summary>
    public static readonly string[] Versions =
    [
        "/usr/bin/kubectl",
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.27",
        "/usr/lib/google-cloud-sdk/bin/kubectl.1.33",
    ];

    /// <summary>The binary this runs.</summary>
    public string Binary { get; } = binary;

    /// <summary>Runs kubectl with <paramref name="args"/>, feeding <paramref name="stdin"/> when given.</summary>
    /// <exception cref="FileNotFoundException">The binary is not installed; the tests say so instead of skipping.</exception>
    public async Task<CommandResult> RunAsync(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!File.Exists(Binary))
        {
            throw new FileNotFoundException($"kubectl is not installed at {Binary}; the end-to-end tests drive the real kubectl (see docs/development.md)", Binary);
        }

        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        start.Environment["KUBECONFIG"] = kubeconfig;
        start.Environment["KUBECTL_EXTERNAL_DIFF"] = "diff -u";
        start.Environment["HOME"] = Path.GetDirectoryName(kubeconfig)!;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{Binary} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish in time; output so far: {await stdout}{await stderr}");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs kubectl with space-separated arguments (none may contain spaces).</summary>
    public Task<CommandResult> RunAsync(string args, string? stdin = null) => RunAsync(args.Split(' ', StringSplitOptions.RemoveEmptyEntries), stdin);

    /// <summary>Starts kubectl and leaves it running (for <c>get -w</c>); the caller ends it.</summary>
    public Process Start(params string[] args)
    {
        var start = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["KUBECONFIG"] = kubeconfig;
        start.Environment["HOME"] = Path.GetDirectoryName(kubeconfig)!;
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"{Binary} did not start");
    }
}
