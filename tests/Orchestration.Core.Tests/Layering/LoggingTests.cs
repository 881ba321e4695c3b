using System.Text.RegularExpressions;

namespace Orchestration.Core.Tests.Layering;

/// <summary>Logging under src/ is source-generated, each message with its own stable event id (docs/logging.md).</summary>
[Trait("Category", "Unit")]
public sealed partial class LoggingTests
{
    private static readonly IReadOnlyList<(string Path, string Text)> Sources = SourceFiles();

    [Fact]
    public void No_source_file_logs_through_a_direct_ILogger_call()
    {
        Sources.Where(f => DirectCall().IsMatch(f.Text)).Select(f => f.Path)
            .Should().BeEmpty("messages are [LoggerMessage] methods with event ids, not logger.LogX(...) calls");
    }

    [Fact]
    public void Every_logged_message_has_an_event_id_of_its_own()
    {
        var ids = Sources.SelectMany(f => EventId().Matches(f.Text).Select(m => (Id: int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), f.Path))).ToList();
        ids.Should().HaveCountGreaterThan(80, "the repository's messages are all source-generated");
        ids.GroupBy(i => i.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(i => i.Path))}")
            .Should().BeEmpty("two messages never share an event id");
        Sources.Where(f => f.Text.Contains("[LoggerMessage(", StringComparison.Ordinal) && LoggerMessageWithoutId().IsMatch(f.Text)).Select(f => f.Path)
            .Should().BeEmpty("every [LoggerMessage] names its EventId");
    }

    private static List<(string, string)> SourceFiles()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Orchestration.sln")))
        {
            root = root.Parent;
        }

        root.Should().NotBeNull("the tests run from inside the checkout");
        var src = Path.Combine(root!.FullName, "src");
        return Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && !p.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(p => (Path.GetRelativePath(src, p), File.ReadAllText(p)))
            .ToList();
    }

    [GeneratedRegex(@"\.Log(Information|Warning|Error|Debug|Trace|Critical)\(")]
    private static partial Regex DirectCall();

    [GeneratedRegex(@"\[LoggerMessage\([^\]]*EventId\s*=\s*(\d+)")]
    private static partial Regex EventId();

    [GeneratedRegex(@"\[LoggerMessage\((?![^\]]*EventId)[^\]]*\]")]
    private static partial Regex LoggerMessageWithoutId();
}
