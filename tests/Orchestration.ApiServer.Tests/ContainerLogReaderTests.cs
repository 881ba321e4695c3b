using System.Text;
using Orchestration.NodeAgent.Server;

namespace Orchestration.ApiServer.Tests;

/// <summary>The node agent reads containerd's CRI log lines and Docker's json-file lines alike.</summary>
[Trait("Category", "Unit")]
public sealed class ContainerLogReaderTests : IDisposable
{
    private const string DockerLog = """
        {"log":"first\n","stream":"stdout","time":"2026-03-01T11:59:58.000000001Z"}
        {"log":"an error\n","stream":"stderr","time":"2026-03-01T11:59:59.000000002Z"}
        {"log":"par","stream":"stdout","time":"2026-03-01T12:00:00.000000003Z"}
        {"log":"tial \"quoted\" \u00e9\n","stream":"stdout","time":"2026-03-01T12:00:00.000000004Z"}

        """;

    private readonly string _path = Path.GetTempFileName();

    public void Dispose() => File.Delete(_path);

    [Fact]
    public async Task Json_file_lines_give_their_text_and_a_log_without_newline_continues_on_the_next()
    {
        var text = await ReadAsync(DockerLog, new LogOptions());

        text.Should().Be("first\nan error\npartial \"quoted\" é\n");
    }

    [Fact]
    public async Task Timestamps_of_json_file_lines_are_their_time_once_per_whole_line()
    {
        var text = await ReadAsync(DockerLog, new LogOptions(Timestamps: true));

        text.Should().Be("2026-03-01T11:59:58.000000001Z first\n2026-03-01T11:59:59.000000002Z an error\n2026-03-01T12:00:00.000000003Z partial \"quoted\" é\n");
    }

    [Fact]
    public async Task Since_and_tail_select_json_file_lines_by_their_time_and_count()
    {
        var since = await ReadAsync(DockerLog, new LogOptions(Since: DateTimeOffset.Parse("2026-03-01T11:59:59Z")));
        var tail = await ReadAsync(DockerLog, new LogOptions(TailLines: 1));

        since.Should().Be("an error\npartial \"quoted\" é\n");
        tail.Should().Be("tial \"quoted\" é\n", "the tail counts records, as it does for CRI's partial records");
    }

    [Fact]
    public async Task Cri_and_json_file_lines_in_one_file_are_each_read_in_their_own_form()
    {
        var text = await ReadAsync("""
            2026-03-01T11:59:58.000000001Z stdout F from containerd
            {"log":"from docker\n","stream":"stdout","time":"2026-03-01T11:59:59Z"}
            {not json at all
            2026-03-01T12:00:00.000000004Z stdout F again

            """, new LogOptions());

        text.Should().Be("from containerd\nfrom docker\nagain\n");
    }

    private async Task<string> ReadAsync(string content, LogOptions options)
    {
        await File.WriteAllTextAsync(_path, content.ReplaceLineEndings("\n"));
        using var output = new MemoryStream();
        await ContainerLogReader.CopyAsync(_path, options, output, _ => Task.FromResult(false), TimeProvider.System, CancellationToken.None);
        return Encoding.UTF8.GetString(output.ToArray());
    }
}
