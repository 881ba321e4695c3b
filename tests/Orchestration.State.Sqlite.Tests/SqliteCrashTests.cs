using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Orchestration.State.Sqlite.Tests;

/// <summary>
/// Acknowledged writes survive <c>kill -9</c>: a child process writes with several writers and
/// reports each acknowledgement; the test kills it at a random moment, reopens the data directory
/// and checks every acknowledged write, round after round.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SqliteCrashTests : IDisposable
{
    private const int Rounds = 5;
    private const int Writers = 8;
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("orch-crash-").FullName;

    public void Dispose() => Directory.Delete(_dataDirectory, recursive: true);

    [Fact]
    public async Task Every_acknowledged_write_survives_kill_9_and_revisions_only_grow()
    {
        var random = new Random(20261124);
        var everAcked = new List<(int Round, int Writer, int Counter, long Revision)>();
        long previousRevision = 0;
        for (var round = 1; round <= Rounds; round++)
        {
            var acks = await RunAndKillAsync(round, TimeSpan.FromMilliseconds(random.Next(150, 900)));
            acks.Should().NotBeEmpty($"round {round} must acknowledge writes before it is killed");
            everAcked.AddRange(acks.Select(a => (round, a.Writer, a.Counter, a.Revision)));

            await using var store = new SqliteStateStore(new SqliteStateStoreOptions { DataDirectory = _dataDirectory, CompactionInterval = null });
            var status = await store.GetStatusAsync();
            status.Revision.Should().BeGreaterThanOrEqualTo(everAcked.Max(a => a.Revision), $"round {round}: the store must hold the newest acknowledged revision");
            status.Revision.Should().BeGreaterThan(previousRevision, $"round {round}: revisions only grow");
            previousRevision = status.Revision;

            foreach (var (ackRound, writer, counter, revision) in everAcked)
            {
                var key = $"/crash/r{ackRound}/w{writer}";
                var atAck = await store.GetAsync(key, revision);
                atAck.Should().NotBeNull($"{key} was acknowledged at revision {revision}");
                Encoding.UTF8.GetString(atAck!.Value.Span).Should().Be(counter.ToString(CultureInfo.InvariantCulture), $"{key} at revision {revision}");
                atAck.ModRevision.Should().Be(revision);
            }

            // The store takes writes again after the crash, above every revision it had.
            var probe = await store.CreateAsync($"/crash/probe{round}", Encoding.UTF8.GetBytes("x"));
            probe.Revision.Should().Be(status.Revision + 1);
            previousRevision = probe.Revision;
        }
    }

    private async Task<List<(int Writer, int Counter, long Revision)>> RunAndKillAsync(int round, TimeSpan runFor)
    {
        var writer = Path.Combine(AppContext.BaseDirectory, "Orchestration.State.Sqlite.CrashWriter.dll");
        File.Exists(writer).Should().BeTrue($"the crash writer is built beside the tests ({writer})");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { writer, _dataDirectory, round.ToString(CultureInfo.InvariantCulture), Writers.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var acks = new ConcurrentQueue<(int, int, long)>();
        var ready = new TaskCompletionSource();
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line == "ready")
                {
                    ready.TrySetResult();
                    continue;
                }

                var parts = line.Split(' ');
                if (parts.Length == 4 && parts[0] == "ack")
                {
                    acks.Enqueue((int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture), long.Parse(parts[3], CultureInfo.InvariantCulture)));
                }
            }
        });

        var started = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        started.Should().BeSameAs(ready.Task, $"the crash writer must start: {(process.HasExited ? await stderr : "(still running)")}");
        await Task.Delay(runFor);
        process.HasExited.Should().BeFalse($"the writer must still be writing when it is killed: {(process.HasExited ? await stderr : "")}");

        process.Kill(); // SIGKILL on Linux: no chance to flush or close anything.
        await process.WaitForExitAsync();
        await stdout;
        return acks.ToList();
    }
}
