using k8s.Models;
using Orchestration.Client;
using static Orchestration.Core.Tests.NodeAgent.NodeAgentHarness;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>Graceful deletion, adoption after an agent restart, kubelet's events, and a quiet status.</summary>
[Trait("Category", "Unit")]
public sealed class NodeAgentLifecycleTests
{
    [Fact]
    public async Task A_sandbox_the_runtime_refuses_leaves_the_pod_creating_with_one_counted_FailedCreatePodSandBox_event_until_it_is_given()
    {
        await using var node = await StartAsync();
        node.Runtime.SandboxFailure = "failed to pull image \"orchestration.local/sandbox:1\": not found";
        await node.CreateAsync(Pod("nosandbox", "Always", Container("c", "sleep", "infinity")));

        var waiting = await node.WaitForAsync("nosandbox", p => p.Status?.ContainerStatuses?.SingleOrDefault()?.State?.Waiting?.Reason == "ContainerCreating", "the container waits for its sandbox as kubelet reports it");
        waiting.Status.Phase.Should().Be("Pending");
        for (var second = 0; second < 30 && (await node.EventsAsync("nosandbox")).SingleOrDefault(e => e.Reason == "FailedCreatePodSandBox")?.Count is null or < 2; second++)
        {
            await node.AdvanceAsync(1);
        }

        var failed = (await node.EventsAsync("nosandbox")).Where(e => e.Reason == "FailedCreatePodSandBox").ToList();
        failed.Should().ContainSingle("the retries count up on one event instead of adding one each");
        failed[0].Type.Should().Be("Warning");
        failed[0].Message.Should().Be("Failed to create pod sandbox: failed to pull image \"orchestration.local/sandbox:1\": not found");
        failed[0].Count.Should().BeGreaterThanOrEqualTo(2, "the pod is tried again with back-off");

        node.Runtime.SandboxFailure = null;
        for (var second = 0; second < 60 && (await node.GetAsync("nosandbox")).Status?.Phase != "Running"; second++)
        {
            await node.AdvanceAsync(1);
        }

        (await node.GetAsync("nosandbox")).Status.Phase.Should().Be("Running", "the next try after the runtime has the image succeeds");
    }

    [Fact]
    public async Task Deleting_a_pod_with_a_grace_period_stops_its_containers_and_the_agent_removes_it()
    {
        await using var node = await StartAsync(gracefulPodDeletion: true);
        var pod = Pod("graceful", "Always", Container("a", "sleep", "infinity"), Container("b", "sleep", "infinity"));
        pod.Spec.TerminationGracePeriodSeconds = 20;
        await node.CreateAsync(pod);
        await node.WaitForAsync("graceful", p => p.Status?.Phase == "Running", "the pod runs");

        var marked = await node.Client.DeleteAsync<V1Pod>("default", "graceful");

        marked.Metadata.DeletionTimestamp.Should().NotBeNull("a pod on a node is only marked until its agent stopped it");
        marked.Metadata.DeletionGracePeriodSeconds.Should().Be(20);
        await EventuallyAsync(
            async () =>
            {
                try
                {
                    await node.GetAsync("graceful");
                    return false;
                }
                catch (NotFoundException)
                {
                    return true;
                }
            },
            "the agent deletes the pod once its containers stopped");
        await EventuallyAsync(async () => (await node.Runtime.ListPodSandboxesAsync(CancellationToken.None)).Count == 0, "the sandbox goes with it");
        await EventuallyAsync(async () => (await node.EventsAsync("graceful")).Count(e => e.Reason == "Killing" && e.Message.StartsWith("Stopping container ", StringComparison.Ordinal)) == 2, "each container's stop is recorded");
    }

    [Fact]
    public async Task A_pod_deleted_at_once_has_its_sandbox_and_containers_removed()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("instant", "Always", Container("a", "sleep", "infinity")));
        await node.WaitForAsync("instant", p => p.Status?.Phase == "Running", "the pod runs");

        await node.Client.DeleteAsync<V1Pod>("default", "instant");

        await EventuallyAsync(async () => (await node.Runtime.ListPodSandboxesAsync(CancellationToken.None)).Count == 0, "the deleted pod's sandbox is removed");
        (await node.Runtime.ListContainersAsync(null, CancellationToken.None)).Should().BeEmpty();
    }

    [Fact]
    public async Task A_new_agent_over_the_same_runtime_adopts_running_containers_and_keeps_restart_counts()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("kept", "Always", Container("app", "sleep", "infinity")));
        await node.WaitForAsync("kept", p => p.Status?.Phase == "Running", "the pod runs");
        node.Runtime.Exit((await node.RunningAsync("kept", "app")).Id, 1, "Error");
        await node.AdvanceAsync(1);
        await node.WaitForAsync("kept", p => p.Status.ContainerStatuses.Single() is { RestartCount: 1, State.Running: not null }, "the container restarted once");
        var before = await node.ContainersAsync("kept");

        await node.StopAgentAsync();
        await node.StartAgentAsync();
        await node.AdvanceAsync(3);

        (await node.ContainersAsync("kept")).Select(c => c.Id).Should().BeEquivalentTo(before.Select(c => c.Id), "the running container is adopted, not started again");
        node.Runtime.Exit((await node.RunningAsync("kept", "app")).Id, 1, "Error");
        await node.AdvanceAsync(1);
        var after = await node.WaitForAsync("kept", p => p.Status.ContainerStatuses.Single() is { RestartCount: >= 2, State.Running: not null } or { RestartCount: >= 2, State.Waiting: not null }, "the new agent restarts it");
        after.Status.ContainerStatuses.Single().RestartCount.Should().Be(2, "the count goes on from the runtime's attempts");
    }

    [Fact]
    public async Task A_new_agent_removes_the_sandbox_of_a_pod_deleted_while_no_agent_ran()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("orphan", "Always", Container("app", "sleep", "infinity")));
        await node.CreateAsync(Pod("kept", "Always", Container("app", "sleep", "infinity")));
        await node.WaitForAsync("orphan", p => p.Status?.Phase == "Running", "the pod runs");
        await node.WaitForAsync("kept", p => p.Status?.Phase == "Running", "the other pod runs");
        var kept = await node.RunningAsync("kept", "app");

        await node.StopAgentAsync();
        await node.Client.DeleteAsync<V1Pod>("default", "orphan");
        (await node.ContainersAsync("orphan")).Should().NotBeEmpty("no agent runs to clean up");
        await node.StartAgentAsync();

        await EventuallyAsync(async () => (await node.Runtime.ListPodSandboxesAsync(CancellationToken.None)).All(s => s.Config.Name != "orphan"), "the new agent removes the orphaned sandbox");
        (await node.RunningAsync("kept", "app")).Id.Should().Be(kept.Id, "the pod that still exists keeps running");
    }

    [Fact]
    public async Task Starting_a_container_records_kubelets_Pulled_Created_and_Started_events_from_the_node()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("events", "Always", Container("app", "sleep", "infinity")));
        await node.WaitForAsync("events", p => p.Status?.Phase == "Running", "the pod runs");

        await EventuallyAsync(async () => (await node.EventsAsync("events")).Count >= 3, "three events are recorded");

        var events = await node.EventsAsync("events");
        events.Select(e => $"{e.Reason}: {e.Message}").Should().BeEquivalentTo(
            "Pulled: Container image \"busybox\" already present on machine",
            "Created: Created container: app",
            "Started: Started container app");
        events.Should().OnlyContain(e => e.Source.Component == "kubelet" && e.Source.Host == "n1" && e.Type == "Normal");
    }

    [Fact]
    public async Task The_status_is_not_written_again_while_nothing_changes()
    {
        await using var node = await StartAsync();
        var app = Container("app", "sleep", "infinity");
        app.ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "80" }, PeriodSeconds = 1 };
        await node.CreateAsync(Pod("quiet", "Always", app));
        await node.WaitForAsync("quiet", p => p.Status?.Phase == "Running", "the pod runs");
        await node.AdvanceAsync(1);
        var ready = await node.WaitForAsync("quiet", p => p.Status?.ContainerStatuses?.Single().Ready == true, "the pod becomes ready");

        await node.AdvanceAsync(5);

        (await node.GetAsync("quiet")).Metadata.ResourceVersion.Should().Be(ready.Metadata.ResourceVersion, "passing probes and an unchanged runtime write nothing");
    }
}
