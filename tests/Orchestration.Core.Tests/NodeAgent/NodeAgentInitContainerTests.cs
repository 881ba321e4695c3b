using k8s.Models;
using Orchestration.Runtime;
using static Orchestration.Core.Tests.NodeAgent.NodeAgentHarness;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>Init containers: one at a time, each to completion, before the app containers; failures per restartPolicy.</summary>
[Trait("Category", "Unit")]
public sealed class NodeAgentInitContainerTests
{
    private static V1Pod WithInits(V1Pod pod, params V1Container[] inits)
    {
        pod.Spec.InitContainers = inits;
        return pod;
    }

    [Fact]
    public async Task Init_containers_run_one_after_another_to_completion_before_the_app_containers()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(WithInits(Pod("inits", "Always", Container("app", "sleep", "infinity")), Container("first", "sleep", "5"), Container("second", "sleep", "5")));

        var during = await node.WaitForAsync("inits", p => p.Status?.InitContainerStatuses?[0].State.Running is not null, "the first init container runs");
        during.Status.Phase.Should().Be("Pending");
        during.Status.InitContainerStatuses[1].State.Waiting.Reason.Should().Be("PodInitializing", "the second waits for the first");
        during.Status.ContainerStatuses.Single().State.Waiting.Reason.Should().Be("PodInitializing");
        var initialized = during.Status.Conditions.Single(c => c.Type == "Initialized");
        initialized.Status.Should().Be("False");
        initialized.Message.Should().Be("containers with incomplete status: [first second]");
        (await node.ContainersAsync("inits")).Select(c => c.Name).Should().Equal("first");

        await node.AdvanceAsync(5);
        var second = await node.WaitForAsync("inits", p => p.Status.InitContainerStatuses[1].State.Running is not null, "the second starts when the first completed");
        second.Status.InitContainerStatuses[0].State.Terminated.Reason.Should().Be("Completed");
        second.Status.ContainerStatuses.Single().State.Waiting.Reason.Should().Be("PodInitializing");
        (await node.ContainersAsync("inits")).Should().NotContain(c => c.Name == "app");

        await node.AdvanceAsync(5);
        var running = await node.WaitForAsync("inits", p => p.Status.Phase == "Running", "the app runs after both completed");
        running.Status.Conditions.Single(c => c.Type == "Initialized").Status.Should().Be("True");
        running.Status.InitContainerStatuses.Should().OnlyContain(s => s.State.Terminated.ExitCode == 0 && s.Ready);
        running.Status.ContainerStatuses.Single().State.Running.Should().NotBeNull();
    }

    [Fact]
    public async Task A_failing_init_container_fails_the_pod_under_restart_policy_Never_and_no_app_container_starts()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(WithInits(Pod("badinit", "Never", Container("app", "sleep", "infinity")), Container("setup", "sh", "-c", "exit 1")));

        var pod = await node.WaitForAsync("badinit", p => p.Status?.Phase == "Failed", "the pod fails with its init container");
        await node.AdvanceAsync(2);

        pod.Status.InitContainerStatuses.Single().State.Terminated.ExitCode.Should().Be(1);
        pod.Status.InitContainerStatuses.Single().RestartCount.Should().Be(0);
        pod.Status.Conditions.Single(c => c.Type == "Initialized").Status.Should().Be("False");
        (await node.ContainersAsync("badinit")).Select(c => c.Name).Should().Equal("setup");
    }

    [Fact]
    public async Task A_failing_init_container_is_retried_with_back_off_under_restart_policy_Always()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(WithInits(Pod("retryinit", "Always", Container("app", "sleep", "infinity")), Container("setup", "sh", "-c", "exit 1")));

        var pod = await node.WaitForAsync("retryinit", p => p.Status?.InitContainerStatuses?.Single().State.Waiting?.Reason == "CrashLoopBackOff", "the init container crash-loops");

        pod.Status.Phase.Should().Be("Pending");
        pod.Status.InitContainerStatuses.Single().RestartCount.Should().Be(1);
        pod.Status.InitContainerStatuses.Single().LastState.Terminated.ExitCode.Should().Be(1);
        pod.Status.ContainerStatuses.Single().State.Waiting.Reason.Should().Be("PodInitializing");
        (await node.ContainersAsync("retryinit")).Should().OnlyContain(c => c.Name == "setup" && c.State == ContainerState.Exited);
    }

    private static V1Container Sidecar(string name, params string[] command)
    {
        var sidecar = Container(name, command);
        sidecar.RestartPolicy = "Always";
        return sidecar;
    }

    [Fact]
    public async Task A_sidecar_starts_before_the_next_init_container_and_keeps_running_beside_the_app()
    {
        await using var node = await StartAsync();
        var proxy = Sidecar("proxy", "sleep", "infinity");
        proxy.StartupProbe = new V1Probe { Exec = new V1ExecAction { Command = ["true"] }, PeriodSeconds = 1 };
        await node.CreateAsync(WithInits(Pod("sidecar", "Always", Container("app", "sleep", "infinity")), proxy, Container("setup", "sleep", "2")));

        var starting = await node.WaitForAsync("sidecar", p => p.Status?.InitContainerStatuses?[0].State.Running is not null, "the sidecar runs first");
        starting.Status.InitContainerStatuses[1].State.Waiting.Reason.Should().Be("PodInitializing", "the next init container waits until the sidecar has started");
        await node.AdvanceUntilAsync("sidecar", p => p.Status.InitContainerStatuses[1].State.Running is not null, "the next init container runs once the sidecar started", maxSeconds: 3);
        var running = await node.AdvanceUntilAsync("sidecar", p => p.Status.Phase == "Running", "the app runs after the init container completed", maxSeconds: 4);

        running.Status.Conditions.Single(c => c.Type == "Initialized").Status.Should().Be("True");
        running.Status.InitContainerStatuses[0].Should().Match<V1ContainerStatus>(s => s.State.Running != null && s.Started == true && s.Ready);
        running.Status.InitContainerStatuses[1].State.Terminated.Reason.Should().Be("Completed");
    }

    [Fact]
    public async Task A_sidecar_restarts_even_under_restart_policy_Never_and_does_not_keep_the_pod_from_succeeding()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(WithInits(Pod("batch", "Never", Container("work", "sleep", "10")), Sidecar("log", "sleep", "infinity")));
        await node.WaitForAsync("batch", p => p.Status?.Phase == "Running", "the pod runs");

        node.Runtime.Exit((await node.RunningAsync("batch", "log")).Id, 1, "Error");
        await node.AdvanceAsync(1);
        await node.WaitForAsync("batch", p => p.Status.InitContainerStatuses.Single() is { RestartCount: 1, State.Running: not null }, "the sidecar restarts");
        await node.AdvanceAsync(10);

        var done = await node.WaitForAsync("batch", p => p.Status.Phase == "Succeeded", "the pod succeeds when its app container completed, its sidecar notwithstanding");
        done.Status.ContainerStatuses.Single().State.Terminated.ExitCode.Should().Be(0);
        await EventuallyAsync(async () => (await node.ContainersAsync("batch")).All(c => c.State != ContainerState.Running), "the sidecar is stopped with the finished pod");
    }
}
