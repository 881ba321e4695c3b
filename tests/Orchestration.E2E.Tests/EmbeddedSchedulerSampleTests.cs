using System.Diagnostics;

namespace Orchestration.E2E.Tests;

/// <summary>The embedded scheduler sample runs on its own and places its workloads as its comments say.</summary>
[Trait("Category", "E2E")]
public sealed class EmbeddedSchedulerSampleTests
{
    [Fact]
    public async Task The_sample_places_pods_in_memory_and_explains_the_one_that_fits_nowhere()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(GreetingControllerTests.SampleAssembly("EmbeddedScheduler"));
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

        process.ExitCode.Should().Be(0, await process.StandardError.ReadToEndAsync());
        output.Should().MatchRegex(@"cache-1\s+-> core-1").And.MatchRegex(@"cache-2\s+-> core-2", "anti-affinity keeps the two cache pods apart")
            .And.MatchRegex(@"trainer\s+-> gpu-1").And.Contain("too-big  pending: 0/4 nodes are available:")
            .And.MatchRegex(@"urgent\s+preempts batch-\d on core-\d", "a higher-priority pod preempts when nothing fits");
        output.Should().NotMatchRegex(@"web-\d\s+-> gpu-1", "pods without the toleration stay off the tainted node");
    }
}
