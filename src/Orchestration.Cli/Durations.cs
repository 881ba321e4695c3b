using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Orchestration.Cli;

/// <summary>Durations on the command line as Kubernetes writes them: <c>40s</c>, <c>500ms</c>, <c>2m</c>, <c>1h30m</c>.</summary>
internal static partial class Durations
{
    public static Option<TimeSpan> Option(string name, string description, TimeSpan defaultValue) => new(name)
    {
        Description = description,
        DefaultValueFactory = _ => defaultValue,
        CustomParser = Parse,
    };

    private static TimeSpan Parse(ArgumentResult result)
    {
        var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
        var total = TimeSpan.Zero;
        var matches = Part().Matches(text);
        if (text.Length == 0 || matches.Sum(m => m.Length) != text.Length)
        {
            result.AddError($"\"{text}\" is not a duration (for example 40s, 500ms, 2m, 1h30m)");
            return TimeSpan.Zero;
        }

        foreach (Match match in matches)
        {
            var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            total += match.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(value),
                "s" => TimeSpan.FromSeconds(value),
                "m" => TimeSpan.FromMinutes(value),
                _ => TimeSpan.FromHours(value),
            };
        }

        return total;
    }

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|s|m|h)")]
    private static partial Regex Part();
}
