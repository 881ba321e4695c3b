using System.Globalization;
using System.Text.RegularExpressions;

namespace Orchestration.Runtime;

/// <summary>
/// How the simulated runtime reads a container's command and arguments, so a manifest sent through
/// kubectl can make a simulated container finish or crash: <c>sleep N</c> runs N seconds (s, m or h
/// suffixes work; several add up) and then exits 0, <c>exit N</c> exits with N (after any sleeps),
/// <c>true</c> and <c>false</c> exit 0 and 1 at once, <c>sleep infinity</c> and anything else run
/// until stopped.
/// </summary>
internal static partial class SimulatedCommand
{
    /// <summary>When and how a container started with this command ends, or null when it runs until stopped.</summary>
    public static SimulatedExit? ExitOf(IReadOnlyList<string> command, IReadOnlyList<string> args)
    {
        var words = command.Concat(args).ToList();
        if (words.Count == 0)
        {
            return null;
        }

        var text = string.Join(' ', words);
        if (InfiniteSleep().IsMatch(text))
        {
            return null;
        }

        var after = TimeSpan.Zero;
        var slept = false;
        foreach (Match sleep in Sleep().Matches(text))
        {
            slept = true;
            var amount = double.Parse(sleep.Groups[1].Value, CultureInfo.InvariantCulture);
            after += sleep.Groups[2].Value switch
            {
                "m" => TimeSpan.FromMinutes(amount),
                "h" => TimeSpan.FromHours(amount),
                _ => TimeSpan.FromSeconds(amount),
            };
        }

        if (Exit().Match(text) is { Success: true } exit)
        {
            return new SimulatedExit(after, int.Parse(exit.Groups[1].Value, CultureInfo.InvariantCulture));
        }

        if (slept)
        {
            return new SimulatedExit(after, 0);
        }

        return words[0] switch
        {
            "true" or "/bin/true" => new SimulatedExit(TimeSpan.Zero, 0),
            "false" or "/bin/false" => new SimulatedExit(TimeSpan.Zero, 1),
            _ => null,
        };
    }

    /// <summary>The exit code a command run in a container (an exec probe) returns: N for <c>exit N</c>, 1 for <c>false</c>, else 0.</summary>
    public static int ExecExitCode(IReadOnlyList<string> command)
    {
        var text = string.Join(' ', command);
        if (Exit().Match(text) is { Success: true } exit)
        {
            return int.Parse(exit.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        return command.Count > 0 && command[0] is "false" or "/bin/false" ? 1 : 0;
    }

    [GeneratedRegex(@"\bsleep\s+(\d+(?:\.\d+)?)(s|m|h)?\b", RegexOptions.CultureInvariant)]
    private static partial Regex Sleep();

    [GeneratedRegex(@"\bsleep\s+inf(inity)?\b", RegexOptions.CultureInvariant)]
    private static partial Regex InfiniteSleep();

    [GeneratedRegex(@"\bexit\s+(\d+)\b", RegexOptions.CultureInvariant)]
    private static partial Regex Exit();
}

/// <summary>A simulated container's planned end.</summary>
/// <param name="After">How long after its start it exits.</param>
/// <param name="ExitCode">The exit code.</param>
internal sealed record SimulatedExit(TimeSpan After, int ExitCode);
