using Microsoft.Extensions.Time.Testing;
using Orchestration.Runtime;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>The simulated runtime's conventions: what a container's command makes it do, image rules, health and exec.</summary>
[Trait("Category", "Unit")]
public sealed class SimulatedRuntimeTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly SimulatedRuntime _runtime;

    public SimulatedRuntimeTests() => _runtime = new SimulatedRuntime(_time);

    private async Task<string> RunAsync(string name, string image, params string[] command)
    {
        await _runtime.UpdateRuntimeConfigAsync("10.244.1.0/24", CancellationToken.None);
        var sandbox = await _runtime.RunPodSandboxAsync(new PodSandboxConfig("default", "p", "uid-1"), CancellationToken.None);
        var id = await _runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig(name, image, command, [], new Dictionary<string, string>()), CancellationToken.None);
        await _runtime.StartContainerAsync(id, CancellationToken.None);
        return id;
    }

    private async Task<ContainerStatus> StatusAsync(string id) =>
        (await _runtime.ListContainersAsync(null, CancellationToken.None)).Single(c => c.Id == id);

    [Fact]
    public async Task Sleep_N_runs_N_seconds_and_exits_0()
    {
        var id = await RunAsync("job", "busybox", "sleep", "5");

        _time.Advance(TimeSpan.FromSeconds(4));
        (await StatusAsync(id)).State.Should().Be(ContainerState.Running);
        _time.Advance(TimeSpan.FromSeconds(1));

        var status = await StatusAsync(id);
        status.State.Should().Be(ContainerState.Exited);
        status.ExitCode.Should().Be(0);
        status.Reason.Should().Be("Completed");
        status.FinishedAt.Should().Be(status.StartedAt + TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Exit_N_exits_with_N_after_the_sleeps_before_it()
    {
        var crash = await RunAsync("crash", "busybox", "sh", "-c", "exit 1");
        var late = await RunAsync("late", "busybox", "sh", "-c", "sleep 2; exit 3");

        (await StatusAsync(crash)).Should().Match<ContainerStatus>(c => c.State == ContainerState.Exited && c.ExitCode == 1 && c.Reason == "Error");
        (await StatusAsync(late)).State.Should().Be(ContainerState.Running);
        _time.Advance(TimeSpan.FromSeconds(2));
        (await StatusAsync(late)).ExitCode.Should().Be(3);
    }

    [Fact]
    public async Task Sleep_infinity_and_other_commands_run_until_stopped()
    {
        var forever = await RunAsync("forever", "busybox", "sleep", "infinity");
        var server = await RunAsync("server", "nginx");

        _time.Advance(TimeSpan.FromDays(1));

        (await StatusAsync(forever)).State.Should().Be(ContainerState.Running);
        (await StatusAsync(server)).State.Should().Be(ContainerState.Running);
    }

    [Fact]
    public async Task An_image_rule_overrides_the_command()
    {
        _runtime.AddExitRule("crashy:1", 7, TimeSpan.FromSeconds(1));
        var id = await RunAsync("app", "crashy:1", "sleep", "infinity");

        _time.Advance(TimeSpan.FromSeconds(1));

        (await StatusAsync(id)).ExitCode.Should().Be(7);
    }

    [Fact]
    public async Task Exec_and_network_probes_answer_from_the_containers_health_and_the_command()
    {
        var id = await RunAsync("app", "busybox", "sleep", "infinity");
        var probe = new NetworkProbe(id, "10.244.1.2", 8080, "/healthz", "HTTP", new Dictionary<string, string>());

        (await _runtime.ExecSyncAsync(id, ["cat", "/tmp/healthy"], TimeSpan.FromSeconds(1), CancellationToken.None)).ExitCode.Should().Be(0);
        (await _runtime.ExecSyncAsync(id, ["sh", "-c", "exit 4"], TimeSpan.FromSeconds(1), CancellationToken.None)).ExitCode.Should().Be(4);
        (await _runtime.ProbeAsync(probe, TimeSpan.FromSeconds(1), CancellationToken.None)).Success.Should().BeTrue();
        _runtime.SetHealth("default", "p", "app", healthy: false);

        (await _runtime.ExecSyncAsync(id, ["cat", "/tmp/healthy"], TimeSpan.FromSeconds(1), CancellationToken.None)).ExitCode.Should().NotBe(0);
        (await _runtime.ProbeAsync(probe, TimeSpan.FromSeconds(1), CancellationToken.None)).Should().Be(new ProbeResult(false, "HTTP probe failed with statuscode: 500"));
        (await _runtime.ProbeAsync(probe with { HttpPath = null }, TimeSpan.FromSeconds(1), CancellationToken.None)).Output.Should().Be("dial tcp 10.244.1.2:8080: connect: connection refused");
    }

    [Fact]
    public async Task Containers_keep_their_attempt_and_labels()
    {
        await _runtime.UpdateRuntimeConfigAsync("10.244.1.0/24", CancellationToken.None);
        var sandbox = await _runtime.RunPodSandboxAsync(new PodSandboxConfig("default", "p", "uid-1"), CancellationToken.None);
        var labels = new Dictionary<string, string> { ["io.kubernetes.container.name"] = "app" };

        var id = await _runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", [], [], new Dictionary<string, string>(), Attempt: 4, Labels: labels), CancellationToken.None);

        var status = await StatusAsync(id);
        status.Attempt.Should().Be(4);
        status.Labels.Should().BeEquivalentTo(labels);
    }
}
