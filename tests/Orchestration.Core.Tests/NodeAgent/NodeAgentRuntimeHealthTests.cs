using k8s.Models;
using Orchestration.Runtime;
using Orchestration.TestKit;
using static Orchestration.Core.Tests.NodeAgent.NodeAgentHarness;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>
/// The node's Ready condition follows its runtime as kubelet's does: NotReady with reason
/// KubeletNotReady and kubelet's message while the runtime is down, its network is not ready or the
/// relist is stuck; the Lease keeps being renewed meanwhile, and the node is Ready again when the
/// runtime is back.
/// </summary>
[Trait("Category", "Unit")]
public sealed class NodeAgentRuntimeHealthTests
{
    [Fact]
    public async Task A_runtime_that_stops_answering_makes_the_node_NotReady_with_kubelets_reason_while_the_lease_is_renewed_and_Ready_again_when_it_answers()
    {
        FlakyRuntime? runtime = null;
        await using var node = await StartAsync(wrap: inner => runtime = new FlakyRuntime(inner));
        await node.CreateAsync(Pod("web", "Always", Container("app", "sleep", "infinity")));
        var running = await node.WaitForAsync("web", p => p.Status?.Phase == "Running", "the pod runs");
        (await ReadyAsync(node)).Status.Should().Be("True");

        runtime!.Down = true;
        var down = await AdvanceUntilReadyIsAsync(node, "False", maxSeconds: 10);
        var renewedBefore = await RenewTimeAsync(node);
        await node.AdvanceAsync(12);
        var renewedWhileDown = await RenewTimeAsync(node);
        var podWhileDown = await node.GetAsync("web");
        runtime.Down = false;
        var up = await AdvanceUntilReadyIsAsync(node, "True", maxSeconds: 10);
        await node.AdvanceAsync(2);
        var after = await node.GetAsync("web");

        down.Reason.Should().Be("KubeletNotReady");
        down.Message.Should().StartWith("container runtime is down").And.Contain("the runtime's socket is gone");
        renewedWhileDown.Should().BeAfter(renewedBefore, "the node keeps heartbeating its Lease while the runtime is down");
        podWhileDown.Status.Phase.Should().Be("Running", "a runtime that does not answer says nothing about the pod's containers");
        up.Reason.Should().Be("KubeletReady");
        up.LastTransitionTime.Should().BeAfter(down.LastTransitionTime!.Value);
        after.Status.ContainerStatuses.Single().ContainerID.Should().Be(running.Status.ContainerStatuses.Single().ContainerID, "the container ran on and is the same one");
        after.Status.ContainerStatuses.Single().RestartCount.Should().Be(0);
    }

    [Fact]
    public async Task A_runtime_whose_network_is_not_ready_keeps_the_node_NotReady_with_its_condition_and_gets_the_pod_cidr_again()
    {
        FlakyRuntime? runtime = null;
        await using var node = await StartAsync(wrap: inner => runtime = new FlakyRuntime(inner) { NetworkReady = false });

        var notReady = await AdvanceUntilReadyIsAsync(node, "False", maxSeconds: 5);
        await node.AdvanceAsync(2);
        var pushes = runtime!.PodCidrUpdates;
        await node.AdvanceAsync(3);
        var pushedAgain = runtime.PodCidrUpdates;
        runtime.NetworkReady = true;
        var ready = await AdvanceUntilReadyIsAsync(node, "True", maxSeconds: 10);

        notReady.Reason.Should().Be("KubeletNotReady");
        notReady.Message.Should().Be("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized");
        pushes.Should().BeGreaterThan(0, "the agent gives the runtime the node's pod CIDR as soon as Node IPAM gave it one");
        pushedAgain.Should().BeGreaterThan(pushes, "a runtime whose network is not ready may have been started afresh and forgotten the CIDR");
        ready.Reason.Should().Be("KubeletReady");
    }

    [Fact]
    public async Task A_relist_that_fails_for_longer_than_the_threshold_makes_the_node_NotReady_with_PLEG_is_not_healthy()
    {
        FlakyRuntime? runtime = null;
        await using var node = await StartAsync(o => o.RelistThreshold = TimeSpan.FromSeconds(10), wrap: inner => runtime = new FlakyRuntime(inner));
        await node.CreateAsync(Pod("web", "Always", Container("app", "sleep", "infinity")));
        await node.WaitForAsync("web", p => p.Status?.Phase == "Running", "the pod runs");

        runtime!.ListContainersFails = true;
        await node.AdvanceAsync(5);
        var early = await ReadyAsync(node);
        var stuck = await AdvanceUntilReadyIsAsync(node, "False", maxSeconds: 15);
        runtime.ListContainersFails = false;
        var ready = await AdvanceUntilReadyIsAsync(node, "True", maxSeconds: 10);

        early.Status.Should().Be("True", "a relist failing for less than the threshold is not yet news");
        stuck.Reason.Should().Be("KubeletNotReady");
        stuck.Message.Should().MatchRegex(@"^PLEG is not healthy: pleg was last seen active 1\ds ago; threshold is 10s$");
        ready.Message.Should().Be("the node agent is posting ready status");
    }

    private static async Task<V1NodeCondition> ReadyAsync(NodeAgentHarness node) =>
        (await node.Client.GetAsync<V1Node>(null, "n1")).Status.Conditions.Single(c => c.Type == "Ready");

    private static async Task<DateTime> RenewTimeAsync(NodeAgentHarness node) =>
        (await node.Client.GetAsync<V1Lease>("kube-node-lease", "n1")).Spec.RenewTime!.Value;

    // Moves the fake clock a second at a time until the node's Ready condition has the status.
    private static async Task<V1NodeCondition> AdvanceUntilReadyIsAsync(NodeAgentHarness node, string status, int maxSeconds)
    {
        V1NodeCondition? last = null;
        for (var second = 0; second <= maxSeconds; second++)
        {
            if (await Eventually.HoldsAsync(async () => (last = await ReadyAsync(node)).Status == status, 8, TimeSpan.FromMilliseconds(25)))
            {
                return last!;
            }

            node.Time.Advance(TimeSpan.FromSeconds(1));
        }

        (await Eventually.HoldsAsync(async () => (last = await ReadyAsync(node)).Status == status, 100, TimeSpan.FromMilliseconds(25)))
            .Should().BeTrue($"the node is Ready={status} within {maxSeconds} s (last: {last?.Status} {last?.Reason} {last?.Message})");
        return last!;
    }

    /// <summary>A runtime that can stop answering altogether, report its network not ready, or fail only its container list.</summary>
    private sealed class FlakyRuntime(SimulatedRuntime inner) : INodeRuntime, IRuntimeConditions
    {
        private int _podCidrUpdates;

        public volatile bool Down;
        public volatile bool NetworkReady = true;
        public volatile bool ListContainersFails;

        public int PodCidrUpdates => Volatile.Read(ref _podCidrUpdates);

        public string Version => inner.Version;

        public Task<IReadOnlyList<RuntimeCondition>> GetConditionsAsync(CancellationToken cancellationToken)
        {
            Check();
            IReadOnlyList<RuntimeCondition> conditions =
            [
                new(RuntimeCondition.RuntimeReady, true, "", ""),
                new(RuntimeCondition.NetworkReady, NetworkReady, NetworkReady ? "" : "NetworkPluginNotReady", NetworkReady ? "" : "Network plugin returns error: cni plugin not initialized"),
            ];
            return Task.FromResult(conditions);
        }

        public Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken)
        {
            Check();
            Interlocked.Increment(ref _podCidrUpdates);
            return inner.UpdateRuntimeConfigAsync(podCidr, cancellationToken);
        }

        public Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken) => Checked(() => inner.RunPodSandboxAsync(config, cancellationToken));

        public Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => Checked(() => inner.StopPodSandboxAsync(sandboxId, cancellationToken));

        public Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => Checked(() => inner.RemovePodSandboxAsync(sandboxId, cancellationToken));

        public Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken) => Checked(() => inner.CreateContainerAsync(sandboxId, config, cancellationToken));

        public Task StartContainerAsync(string containerId, CancellationToken cancellationToken) => Checked(() => inner.StartContainerAsync(containerId, cancellationToken));

        public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken) => Checked(() => inner.StopContainerAsync(containerId, gracePeriod, cancellationToken));

        public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken) => Checked(() => inner.RemoveContainerAsync(containerId, cancellationToken));

        public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) => Checked(() => inner.ListPodSandboxesAsync(cancellationToken));

        public Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken) =>
            ListContainersFails && sandboxId is null ? throw new IOException("ListContainers timed out") : Checked(() => inner.ListContainersAsync(sandboxId, cancellationToken));

        public Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) => Checked(() => inner.ExecSyncAsync(containerId, command, timeout, cancellationToken));

        private void Check()
        {
            if (Down)
            {
                throw new IOException("the runtime's socket is gone");
            }
        }

        private T Checked<T>(Func<T> call)
        {
            Check();
            return call();
        }
    }
}
