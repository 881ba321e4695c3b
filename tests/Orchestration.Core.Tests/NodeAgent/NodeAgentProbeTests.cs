using k8s.Models;
using Orchestration.Runtime;
using static Orchestration.Core.Tests.NodeAgent.NodeAgentHarness;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>Liveness, readiness and startup probes, answered by the simulated runtime's health.</summary>
[Trait("Category", "Unit")]
public sealed class NodeAgentProbeTests
{
    private static V1Probe Exec(int period = 1, int failures = 3) =>
        new() { Exec = new V1ExecAction { Command = ["cat", "/tmp/healthy"] }, PeriodSeconds = period, FailureThreshold = failures };

    [Fact]
    public async Task A_container_failing_its_liveness_probe_is_killed_and_restarted()
    {
        await using var node = await StartAsync();
        var app = Container("app", "sleep", "infinity");
        app.LivenessProbe = Exec(failures: 3);
        await node.CreateAsync(Pod("live", "Always", app));
        await node.WaitForAsync("live", p => p.Status?.Phase == "Running", "the pod runs");
        var first = await node.RunningAsync("live", "app");

        node.Runtime.SetHealth("default", "live", "app", healthy: false);
        await node.AdvanceAsync(2);
        (await node.RunningAsync("live", "app")).Id.Should().Be(first.Id, "two failures are below the threshold of three");
        var pod = await node.AdvanceUntilAsync("live", p => p.Status.ContainerStatuses.Single() is { RestartCount: 1, State.Running: not null }, "the container is killed and restarted", maxSeconds: 5);
        pod.Status.ContainerStatuses.Single().LastState.Terminated.ExitCode.Should().Be(143);
        (await node.ContainersAsync("live")).Single(c => c.Id == first.Id).State.Should().Be(ContainerState.Exited);
        await EventuallyAsync(async () => (await node.EventsAsync("live")).Any(e => e.Reason == "Killing" && e.Message == "Container app failed liveness probe, will be restarted"), "a Killing event says why");
        await EventuallyAsync(async () => (await node.EventsAsync("live")).Any(e => e.Reason == "Unhealthy" && e.Type == "Warning" && e.Message.StartsWith("Liveness probe failed: ", StringComparison.Ordinal)), "Unhealthy events report the failures");
    }

    [Fact]
    public async Task A_liveness_probe_with_its_own_grace_period_kills_within_it_instead_of_the_pods()
    {
        var stops = new List<TimeSpan>();
        await using var node = await StartAsync(wrap: runtime => new StopRecordingRuntime(runtime, stops));
        var app = Container("app", "sleep", "infinity");
        app.LivenessProbe = Exec(failures: 1);
        app.LivenessProbe.TerminationGracePeriodSeconds = 3;
        var pod = Pod("quickkill", "Always", app);
        pod.Spec.TerminationGracePeriodSeconds = 60;
        await node.CreateAsync(pod);
        await node.WaitForAsync("quickkill", p => p.Status?.Phase == "Running", "the pod runs");

        node.Runtime.SetHealth("default", "quickkill", "app", healthy: false);
        await node.AdvanceUntilAsync("quickkill", p => p.Status.ContainerStatuses.Single().RestartCount == 1, "the container is killed and restarted", maxSeconds: 3);

        lock (stops)
        {
            stops.Should().Equal(TimeSpan.FromSeconds(3));
        }
    }

    [Fact]
    public async Task Readiness_probe_failures_take_the_pod_out_of_Ready_without_restarting_it()
    {
        await using var node = await StartAsync();
        var app = Container("app", "sleep", "infinity");
        app.ReadinessProbe = new V1Probe { HttpGet = new V1HTTPGetAction { Path = "/ready", Port = "8080" }, PeriodSeconds = 1, FailureThreshold = 1 };
        await node.CreateAsync(Pod("ready", "Always", app));

        var before = await node.WaitForAsync("ready", p => p.Status?.Phase == "Running", "the pod runs");
        before.Status.Conditions.Single(c => c.Type == "Ready").Status.Should().Be("False", "readiness is not known before the first probe");
        await node.AdvanceAsync(1);
        await node.WaitForAsync("ready", p => p.Status.Conditions.Single(c => c.Type == "Ready").Status == "True", "a passing probe makes the pod Ready");

        node.Runtime.SetHealth("default", "ready", "app", healthy: false);
        await node.AdvanceAsync(1);
        var unready = await node.WaitForAsync("ready", p => p.Status.Conditions.Single(c => c.Type == "Ready").Status == "False", "a failing probe takes it out");

        unready.Status.Conditions.Single(c => c.Type == "ContainersReady").Status.Should().Be("False");
        unready.Status.ContainerStatuses.Single().Ready.Should().BeFalse();
        unready.Status.ContainerStatuses.Single().RestartCount.Should().Be(0, "readiness never restarts a container");
        unready.Status.ContainerStatuses.Single().State.Running.Should().NotBeNull();
    }

    [Fact]
    public async Task A_startup_probe_holds_back_liveness_and_readiness_until_it_passes()
    {
        await using var node = await StartAsync();
        var app = Container("app", "sleep", "infinity");
        app.StartupProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "8080" }, PeriodSeconds = 1, FailureThreshold = 30 };
        app.LivenessProbe = Exec(failures: 1);
        app.ReadinessProbe = Exec(failures: 1);
        node.Runtime.SetHealth("default", "slow", "app", healthy: false);
        await node.CreateAsync(Pod("slow", "Always", app));
        await node.WaitForAsync("slow", p => p.Status?.Phase == "Running", "the pod runs");

        await node.AdvanceAsync(5);
        var starting = await node.GetAsync("slow");
        starting.Status.ContainerStatuses.Single().RestartCount.Should().Be(0, "liveness does not run before the startup probe passed");
        starting.Status.ContainerStatuses.Single().Started.Should().BeFalse();

        node.Runtime.SetHealth("default", "slow", "app", healthy: true);
        var started = await node.AdvanceUntilAsync("slow", p => p.Status.ContainerStatuses.Single().Started == true && p.Status.ContainerStatuses.Single().Ready, "the startup probe passes, then readiness", maxSeconds: 4);
        started.Status.ContainerStatuses.Single().RestartCount.Should().Be(0);
    }

    [Fact]
    public async Task A_container_failing_its_startup_probe_is_restarted()
    {
        await using var node = await StartAsync();
        var app = Container("app", "sleep", "infinity");
        app.StartupProbe = new V1Probe { Exec = new V1ExecAction { Command = ["sh", "-c", "exit 1"] }, PeriodSeconds = 1, FailureThreshold = 2 };
        await node.CreateAsync(Pod("neverstarts", "Always", app));
        await node.WaitForAsync("neverstarts", p => p.Status?.Phase == "Running", "the pod runs");

        await node.AdvanceUntilAsync("neverstarts", p => p.Status.ContainerStatuses.Single().RestartCount == 1, "the container is restarted after failed startup probes", maxSeconds: 5);
        await EventuallyAsync(async () => (await node.EventsAsync("neverstarts")).Any(e => e.Reason == "Killing" && e.Message == "Container app failed startup probe, will be restarted"), "a Killing event says why");
    }

    /// <summary>A simulated runtime that notes the grace period of each container stop.</summary>
    private sealed class StopRecordingRuntime(SimulatedRuntime inner, List<TimeSpan> stops) : INodeRuntime
    {
        public string Version => inner.Version;

        public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken)
        {
            lock (stops)
            {
                stops.Add(gracePeriod);
            }

            return inner.StopContainerAsync(containerId, gracePeriod, cancellationToken);
        }

        public Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken) => inner.CreateContainerAsync(sandboxId, config, cancellationToken);

        public Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken) => inner.UpdateRuntimeConfigAsync(podCidr, cancellationToken);

        public Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken) => inner.RunPodSandboxAsync(config, cancellationToken);

        public Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => inner.StopPodSandboxAsync(sandboxId, cancellationToken);

        public Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => inner.RemovePodSandboxAsync(sandboxId, cancellationToken);

        public Task StartContainerAsync(string containerId, CancellationToken cancellationToken) => inner.StartContainerAsync(containerId, cancellationToken);

        public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken) => inner.RemoveContainerAsync(containerId, cancellationToken);

        public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) => inner.ListPodSandboxesAsync(cancellationToken);

        public Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken) => inner.ListContainersAsync(sandboxId, cancellationToken);

        public Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) => inner.ExecSyncAsync(containerId, command, timeout, cancellationToken);
    }
}
