using k8s.Models;
using Orchestration.NodeAgent;
using Orchestration.Runtime;
using static Orchestration.Core.Tests.NodeAgent.NodeAgentHarness;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>Exits noticed by the relist, the three restart policies, and kubelet's crash-loop back-off.</summary>
[Trait("Category", "Unit")]
public sealed class NodeAgentRestartTests
{
    [Fact]
    public async Task A_container_exit_is_noticed_by_the_relist_without_any_api_event()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("quiet", "Never", Container("app", "sleep", "infinity")));
        await node.WaitForAsync("quiet", p => p.Status?.Phase == "Running", "the pod runs");

        node.Runtime.Exit((await node.RunningAsync("quiet", "app")).Id, 3, "Error");
        await Task.Delay(300);
        (await node.GetAsync("quiet")).Status.Phase.Should().Be("Running", "nothing but the relist, which waits for the clock, can notice the exit");
        await node.AdvanceAsync(1);

        var pod = await node.WaitForAsync("quiet", p => p.Status.Phase == "Failed", "the relist notices the exit within one interval");
        pod.Status.ContainerStatuses.Single().State.Terminated.ExitCode.Should().Be(3);
    }

    [Fact]
    public async Task Restart_policy_Always_restarts_a_container_that_completed()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("always", "Always", Container("app", "sleep", "5")));
        await node.WaitForAsync("always", p => p.Status?.Phase == "Running", "the pod runs");

        await node.AdvanceAsync(6);

        var pod = await node.WaitForAsync("always", p => p.Status.ContainerStatuses.Single().RestartCount == 1 && p.Status.ContainerStatuses.Single().State.Running is not null, "the completed container runs again");
        var status = pod.Status.ContainerStatuses.Single();
        status.LastState.Terminated.ExitCode.Should().Be(0);
        status.LastState.Terminated.Reason.Should().Be("Completed");
        pod.Status.Phase.Should().Be("Running");
    }

    [Fact]
    public async Task Restart_policy_OnFailure_restarts_a_failed_container_and_the_pod_succeeds_when_it_exits_0()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("onfail", "OnFailure", Container("app", "sleep", "infinity")));
        await node.WaitForAsync("onfail", p => p.Status?.Phase == "Running", "the pod runs");

        node.Runtime.Exit((await node.RunningAsync("onfail", "app")).Id, 1, "Error");
        await node.AdvanceAsync(1);
        var restarted = await node.WaitForAsync("onfail", p => p.Status.ContainerStatuses.Single() is { RestartCount: 1, State.Running: not null }, "the failed container restarts");
        node.Runtime.Exit((await node.RunningAsync("onfail", "app")).Id, 0, "Completed");
        await node.AdvanceAsync(1);

        var done = await node.WaitForAsync("onfail", p => p.Status.Phase == "Succeeded", "a container that exits 0 under OnFailure is done");
        restarted.Status.ContainerStatuses.Single().LastState.Terminated.ExitCode.Should().Be(1);
        done.Status.ContainerStatuses.Single().RestartCount.Should().Be(1);
        done.Status.ContainerStatuses.Single().State.Terminated.ExitCode.Should().Be(0);
        (await node.ContainersAsync("onfail")).Should().NotContain(c => c.State == Orchestration.Runtime.ContainerState.Running);
    }

    [Fact]
    public async Task Restart_policy_Never_leaves_a_failed_container_and_the_pod_fails()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("never", "Never", Container("app", "sh", "-c", "exit 2")));

        var pod = await node.WaitForAsync("never", p => p.Status?.Phase == "Failed", "the pod fails with its container");
        await node.AdvanceAsync(3);

        var status = pod.Status.ContainerStatuses.Single();
        status.State.Terminated.ExitCode.Should().Be(2);
        status.State.Terminated.Reason.Should().Be("Error");
        status.RestartCount.Should().Be(0);
        (await node.ContainersAsync("never")).Should().ContainSingle("nothing restarts under Never");
        pod.Status.Conditions.Single(c => c.Type == "Ready").Reason.Should().Be("PodCompleted");
    }

    [Fact]
    public async Task A_job_like_pod_whose_command_sleeps_succeeds_when_the_sleep_ends()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("job", "OnFailure", Container("work", "sh", "-c", "sleep 3")));
        await node.WaitForAsync("job", p => p.Status?.Phase == "Running", "the pod runs");

        await node.AdvanceAsync(2);
        (await node.GetAsync("job")).Status.Phase.Should().Be("Running", "the sleep has not ended");
        await node.AdvanceAsync(2);

        var pod = await node.WaitForAsync("job", p => p.Status.Phase == "Succeeded", "the pod succeeds when its only container exits 0");
        pod.Status.ContainerStatuses.Single().State.Terminated.Reason.Should().Be("Completed");
        pod.Status.ContainerStatuses.Single().RestartCount.Should().Be(0);
    }

    [Fact]
    public async Task A_container_the_runtime_cannot_create_waits_with_the_error_and_is_retried_after_the_back_off()
    {
        var failing = default(RefusingRuntime);
        await using var node = await StartAsync(wrap: runtime => failing = new RefusingRuntime(runtime, "missing:1"));
        await node.CreateAsync(Pod("refused", "Always", new V1Container { Name = "app", Image = "missing:1" }));

        var pod = await node.WaitForAsync("refused", p => p.Status?.ContainerStatuses?.Single().State.Waiting?.Reason == "CreateContainerError", "the error shows as the waiting reason");
        await Task.Delay(300);
        failing!.Attempts.Should().Be(1, "a failed create is not retried before the back-off");
        await node.AdvanceAsync(10);

        await EventuallyAsync(() => Task.FromResult(failing.Attempts == 2), "it is retried after the back-off");
        pod.Status.ContainerStatuses.Single().State.Waiting.Message.Should().Be("image missing:1 not found");
        pod.Status.Phase.Should().Be("Pending");
    }

    [Fact]
    public async Task A_container_whose_image_is_not_on_the_node_with_pull_policy_Never_waits_with_ErrImageNeverPull()
    {
        await using var node = await StartAsync(wrap: runtime => new RefusingRuntime(runtime, "nginx:1.27", imageMissing: true));
        await node.CreateAsync(Pod("no-image", "Always", new V1Container { Name = "app", Image = "nginx:1.27", ImagePullPolicy = "Never" }));

        var pod = await node.WaitForAsync("no-image", p => p.Status?.ContainerStatuses?.Single().State.Waiting?.Reason == "ErrImageNeverPull", "a missing image is kubelet's ErrImageNeverPull");

        pod.Status.ContainerStatuses.Single().State.Waiting.Message.Should().StartWith("Container image \"nginx:1.27\" is not present with pull policy of Never");
        pod.Status.Phase.Should().Be("Pending");
    }

    [Fact]
    public async Task A_missing_image_that_would_be_pulled_reports_ErrImagePull_then_ImagePullBackOff()
    {
        await using var node = await StartAsync(wrap: runtime => new RefusingRuntime(runtime, "nginx:1.27", imageMissing: true));
        await node.CreateAsync(Pod("pull", "Always", new V1Container { Name = "app", Image = "nginx:1.27" }));

        // The pull's own failure is reported first (a later sync in the same instant may already show the back-off).
        await EventuallyAsync(async () => (await node.EventsAsync("pull")).Any(e => e.Reason == "Failed" && e.Message.StartsWith("Error: failed to pull image \"nginx:1.27\"", StringComparison.Ordinal)), "IfNotPresent tries a pull, which cannot succeed");

        await node.AdvanceAsync(2);
        var pod = await node.WaitForAsync("pull", p => p.Status?.ContainerStatuses?.Single().State.Waiting?.Reason == "ImagePullBackOff", "the back-off shows while it waits");
        pod.Status.ContainerStatuses.Single().State.Waiting.Message.Should().Be("Back-off pulling image \"nginx:1.27\"");
        pod.Status.Phase.Should().Be("Pending");
    }

    [Theory]
    [InlineData(10, "10s")]
    [InlineData(80, "1m20s")]
    [InlineData(300, "5m0s")]
    [InlineData(3725, "1h2m5s")]
    public void Back_off_periods_are_written_as_Go_durations_like_kubelets(int seconds, string expected) =>
        PodWorker.GoDuration(TimeSpan.FromSeconds(seconds)).Should().Be(expected);

    [Fact]
    public async Task A_crashing_container_backs_off_10s_then_20s_with_kubelets_message()
    {
        await using var node = await StartAsync();
        var created = await node.CreateAsync(Pod("crash", "Always", Container("app", "sh", "-c", "exit 1")));
        var podName = $"crash_default({created.Metadata.Uid})";

        // The first crash restarts at once; the second waits 10 s.
        var first = await node.WaitForAsync("crash", p => p.Status?.ContainerStatuses?.Single().State.Waiting?.Reason == "CrashLoopBackOff", "the crashing container backs off");
        var status = first.Status.ContainerStatuses.Single();
        status.RestartCount.Should().Be(1);
        status.State.Waiting.Message.Should().Be($"back-off 10s restarting failed container=app pod={podName}");
        status.LastState.Terminated.ExitCode.Should().Be(1);
        first.Status.Phase.Should().Be("Running", "an Always pod is running while its container restarts");

        await node.AdvanceAsync(9);
        (await node.GetAsync("crash")).Status.ContainerStatuses.Single().RestartCount.Should().Be(1, "the back-off has not passed");
        await node.AdvanceAsync(1);

        var second = await node.WaitForAsync("crash", p => p.Status.ContainerStatuses.Single() is { RestartCount: 2, State.Waiting: not null }, "it restarts after 10 s and crashes again");
        second.Status.ContainerStatuses.Single().State.Waiting.Message.Should().Be($"back-off 20s restarting failed container=app pod={podName}");
        await node.AdvanceAsync(19);
        (await node.GetAsync("crash")).Status.ContainerStatuses.Single().RestartCount.Should().Be(2, "the doubled back-off has not passed");
        await node.AdvanceAsync(1);
        await node.WaitForAsync("crash", p => p.Status.ContainerStatuses.Single().RestartCount == 3, "it restarts after 20 s more");
        await EventuallyAsync(async () => (await node.EventsAsync("crash")).Any(e => e.Reason == "BackOff" && e.Type == "Warning" && e.Message == $"Back-off restarting failed container app in pod {podName}"), "a BackOff event is recorded");
    }

    [Fact]
    public async Task The_back_off_stops_doubling_at_its_maximum_and_starts_over_after_a_long_run()
    {
        await using var node = await StartAsync(o =>
        {
            o.BackOffInitial = TimeSpan.FromSeconds(2);
            o.BackOffMax = TimeSpan.FromSeconds(4);
        });
        await node.CreateAsync(Pod("capped", "Always", Container("app", "sh", "-c", "exit 1")));
        string Message(V1Pod p) => p.Status?.ContainerStatuses?.Single().State.Waiting?.Message ?? "";

        await node.WaitForAsync("capped", p => Message(p).StartsWith("back-off 2s", StringComparison.Ordinal), "the first back-off is the initial one");
        await node.AdvanceAsync(2);
        await node.WaitForAsync("capped", p => Message(p).StartsWith("back-off 4s", StringComparison.Ordinal), "it doubles");
        await node.AdvanceAsync(4);
        var capped = await node.WaitForAsync("capped", p => p.Status.ContainerStatuses.Single().RestartCount == 3 && Message(p).Length > 0, "it restarts after the maximum");
        Message(capped).Should().StartWith("back-off 4s", "it does not grow past the maximum");

        // A run longer than twice the maximum forgets the crashes before it.
        node.Runtime.AddExitRule("busybox", 1, TimeSpan.FromMinutes(10));
        await node.AdvanceAsync(4);
        await node.WaitForAsync("capped", p => p.Status.ContainerStatuses.Single() is { RestartCount: 4, State.Running: not null }, "it runs again");
        await node.AdvanceAsync(9);
        node.Runtime.Exit((await node.RunningAsync("capped", "app")).Id, 1, "Error");
        await node.AdvanceAsync(1);
        await node.WaitForAsync("capped", p => p.Status.ContainerStatuses.Single() is { RestartCount: 5, State.Running: not null }, "a crash after a long run restarts at once");
        node.Runtime.Exit((await node.RunningAsync("capped", "app")).Id, 1, "Error");
        await node.AdvanceAsync(1);
        var reset = await node.WaitForAsync("capped", p => Message(p).Length > 0, "the next crash backs off");
        Message(reset).Should().StartWith("back-off 2s", "the back-off started over");
    }

    /// <summary>A runtime that refuses to create containers from one image, counting the attempts.</summary>
    private sealed class RefusingRuntime(SimulatedRuntime inner, string image, bool imageMissing = false) : INodeRuntime
    {
        private int _attempts;

        public int Attempts => Volatile.Read(ref _attempts);

        public string Version => inner.Version;

        public Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken)
        {
            if (config.Image != image)
            {
                return inner.CreateContainerAsync(sandboxId, config, cancellationToken);
            }

            Interlocked.Increment(ref _attempts);
            throw imageMissing ? new ImageNotPresentException(image, "docker.io/library/" + image) : new InvalidOperationException($"image {image} not found");
        }

        public Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken) => inner.UpdateRuntimeConfigAsync(podCidr, cancellationToken);

        public Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken) => inner.RunPodSandboxAsync(config, cancellationToken);

        public Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => inner.StopPodSandboxAsync(sandboxId, cancellationToken);

        public Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => inner.RemovePodSandboxAsync(sandboxId, cancellationToken);

        public Task StartContainerAsync(string containerId, CancellationToken cancellationToken) => inner.StartContainerAsync(containerId, cancellationToken);

        public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken) => inner.StopContainerAsync(containerId, gracePeriod, cancellationToken);

        public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken) => inner.RemoveContainerAsync(containerId, cancellationToken);

        public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) => inner.ListPodSandboxesAsync(cancellationToken);

        public Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken) => inner.ListContainersAsync(sandboxId, cancellationToken);

        public Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) => inner.ExecSyncAsync(containerId, command, timeout, cancellationToken);
    }
}
