using System.Diagnostics;
using Orchestration.TestKit;
using Xunit.Abstractions;

namespace Orchestration.Runtime.Containerd.Tests;

/// <summary>What only a real runtime shows: command output, images, time limits, logs, probes into the pod network.</summary>
[Trait("Category", "Integration")]
[Collection(ContainerdCollection.Name)]
public sealed class ContainerdRuntimeTests(ContainerdFixture containerd, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<string> _sandboxes = [];

    private ContainerdRuntime Runtime => containerd.Runtime;

    public async Task InitializeAsync() => await Runtime.UpdateRuntimeConfigAsync("10.244.7.0/24", CancellationToken.None);

    public async Task DisposeAsync()
    {
        foreach (var id in _sandboxes)
        {
            await Runtime.StopPodSandboxAsync(id, CancellationToken.None);
            await Runtime.RemovePodSandboxAsync(id, CancellationToken.None);
        }
    }

    [Fact]
    public void The_version_names_containerd()
    {
        Runtime.Version.Should().MatchRegex(@"^containerd://\d+\.\d+");
    }

    [Fact]
    public async Task The_local_images_are_listed_under_their_full_names()
    {
        var images = await Runtime.ListImagesAsync(CancellationToken.None);

        images.Should().Contain(["docker.io/library/busybox:latest", "orchestration.local/sandbox:1"]);
    }

    [Fact]
    public async Task ExecSync_returns_the_commands_output_and_sees_the_containers_environment()
    {
        var id = await RunAsync("exec", ["sh", "-c", "echo hi; sleep 3600"]);

        var ok = await Runtime.ExecSyncAsync(id, ["echo", "ok"], TimeSpan.FromSeconds(5), CancellationToken.None);
        var env = await Runtime.ExecSyncAsync(id, ["sh", "-c", "echo $GREETING >&2; exit 4"], TimeSpan.FromSeconds(5), CancellationToken.None);

        ok.Should().Be(new ExecResult(0, "ok\n"));
        env.Should().Be(new ExecResult(4, "hello\n"));
    }

    [Fact]
    public async Task ExecSync_past_its_timeout_throws_TimeoutException()
    {
        var id = await RunAsync("exec-timeout", ["sleep", "3600"]);
        var stopwatch = Stopwatch.StartNew();

        var act = () => Runtime.ExecSyncAsync(id, ["sleep", "30"], TimeSpan.FromSeconds(1), CancellationToken.None);

        await act.Should().ThrowAsync<TimeoutException>();
        stopwatch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_missing_image_is_an_ImageNotPresentException_naming_it()
    {
        var sandbox = await SandboxAsync("no-image");

        var act = () => Runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "nginx:1.27", [], [], new Dictionary<string, string>()), CancellationToken.None);

        var thrown = await act.Should().ThrowAsync<ImageNotPresentException>();
        thrown.Which.Image.Should().Be("nginx:1.27");
        thrown.Which.ResolvedImage.Should().Be("docker.io/library/nginx:1.27");
        thrown.Which.Message.Should().Contain("nginx:1.27");
        (await Runtime.ListContainersAsync(sandbox.Id, CancellationToken.None)).Should().BeEmpty();
    }

    [Fact]
    public async Task A_containers_output_goes_to_its_log_file_under_the_pods_log_directory()
    {
        var id = await RunAsync("logs", ["sh", "-c", "echo hi; sleep 3600"]);
        var directory = Path.Combine(containerd.Host.PodLogDirectory);

        var logged = await Eventually.HoldsAsync(
            () => Directory.EnumerateFiles(directory, "0.log", SearchOption.AllDirectories).Any(f => File.ReadAllText(f).Contains(" stdout F hi", StringComparison.Ordinal)),
            100,
            TimeSpan.FromMilliseconds(50));

        logged.Should().BeTrue($"container {id} printed hi, which containerd writes in CRI log format under {directory}");
    }

    [Fact]
    public async Task Probes_reach_the_pod_ip_inside_containerds_network_namespace()
    {
        var id = await RunAsync("probe", ["sh", "-c", "echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]);
        var ip = (await Runtime.ListPodSandboxesAsync(CancellationToken.None)).Single(s => s.Id == _sandboxes[^1]).Ip;
        var headers = new Dictionary<string, string>();

        var tcp = new NetworkProbe(id, ip, 8080, null, "HTTP", headers);
        (await Eventually.HoldsAsync(async () => (await Runtime.ProbeAsync(tcp, TimeSpan.FromSeconds(1), CancellationToken.None)).Success, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("httpd listens on 8080 in the pod");
        var http = await Runtime.ProbeAsync(new NetworkProbe(id, ip, 8080, "/index.html", "HTTP", headers), TimeSpan.FromSeconds(2), CancellationToken.None);
        var missing = await Runtime.ProbeAsync(new NetworkProbe(id, ip, 8080, "/nope", "HTTP", headers), TimeSpan.FromSeconds(2), CancellationToken.None);
        var closed = await Runtime.ProbeAsync(new NetworkProbe(id, ip, 8081, null, "HTTP", headers), TimeSpan.FromSeconds(2), CancellationToken.None);

        http.Should().Be(new ProbeResult(true, ""));
        missing.Should().Be(new ProbeResult(false, "HTTP probe failed with statuscode: 404"));
        closed.Success.Should().BeFalse();
        closed.Output.Should().StartWith($"dial tcp {ip}:8081:");
    }

    [Fact]
    public async Task A_new_sandbox_for_a_pod_whose_dead_sandbox_is_not_removed_yet_takes_the_next_attempt()
    {
        var config = new PodSandboxConfig("default", "again", Guid.NewGuid().ToString());
        var first = await Runtime.RunPodSandboxAsync(config, CancellationToken.None);
        _sandboxes.Add(first.Id);
        await Runtime.StopPodSandboxAsync(first.Id, CancellationToken.None);

        // containerd keeps the stopped sandbox's name (pod, namespace, uid, attempt 0) until it is removed.
        var second = await Runtime.RunPodSandboxAsync(config, CancellationToken.None);
        _sandboxes.Add(second.Id);

        second.Id.Should().NotBe(first.Id);
        second.Ready.Should().BeTrue();
        (await Runtime.ListPodSandboxesAsync(CancellationToken.None)).Where(s => s.Config.Uid == config.Uid).Select(s => (s.Id, s.Ready))
            .Should().BeEquivalentTo([(first.Id, false), (second.Id, true)]);
    }

    [Fact]
    public async Task Sandbox_and_container_start_times_are_measured()
    {
        var runs = new List<TimeSpan>();
        var starts = new List<TimeSpan>();
        for (var i = 0; i < 5; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            var sandbox = await SandboxAsync($"timing-{i}");
            runs.Add(stopwatch.Elapsed);
            stopwatch.Restart();
            var id = await Runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", ["sleep", "3600"], [], new Dictionary<string, string>()), CancellationToken.None);
            await Runtime.StartContainerAsync(id, CancellationToken.None);
            starts.Add(stopwatch.Elapsed);
        }

        static string Ms(IEnumerable<TimeSpan> times) => string.Join(", ", times.Select(t => $"{t.TotalMilliseconds:F0}"));
        output.WriteLine($"containerd start (namespace, daemon, image import): {containerd.StartTime.TotalMilliseconds:F0} ms");
        output.WriteLine($"RunPodSandbox ms: {Ms(runs)}");
        output.WriteLine($"CreateContainer+StartContainer ms: {Ms(starts)}");

        // Loose bounds: a 2-core shared machine; they catch a hang or a retry loop, not a slowdown.
        runs.Min().Should().BeLessThan(TimeSpan.FromSeconds(5));
        starts.Min().Should().BeLessThan(TimeSpan.FromSeconds(5));
    }

    private async Task<PodSandbox> SandboxAsync(string name)
    {
        var sandbox = await Runtime.RunPodSandboxAsync(new PodSandboxConfig("containerd-tests", name, Guid.NewGuid().ToString()), CancellationToken.None);
        _sandboxes.Add(sandbox.Id);
        return sandbox;
    }

    private async Task<string> RunAsync(string name, IReadOnlyList<string> command)
    {
        var sandbox = await SandboxAsync(name);
        var id = await Runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", command, [], new Dictionary<string, string> { ["GREETING"] = "hello" }), CancellationToken.None);
        await Runtime.StartContainerAsync(id, CancellationToken.None);
        return id;
    }
}
