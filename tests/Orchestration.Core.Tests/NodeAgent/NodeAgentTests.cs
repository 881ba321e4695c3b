using k8s.Models;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Resources;
using Orchestration.Runtime;
using Orchestration.State;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>The node agent over the simulated runtime: registration, lease, running pods, status, cleanup.</summary>
[Trait("Category", "Unit")]
public sealed class NodeAgentTests : IAsyncLifetime
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly LocalClusterClient _client;
    private readonly SimulatedRuntime _runtime = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    public NodeAgentTests() => _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));

    public async Task InitializeAsync()
    {
        foreach (var ns in new[] { "default", "kube-node-lease" })
        {
            await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        }

        var agent = new Orchestration.NodeAgent.NodeAgent(_client, _runtime, new NodeAgentOptions { NodeName = "n1", Cpu = "2", Memory = "4Gi" });
        _run = agent.RunAsync(_stop.Token);
        await EventuallyAsync(async () => (await _client.ListAsync<V1Node>(null)).Items.Any(n => n.Status?.Conditions is not null), "the node registers");
        await _client.PatchAsync<V1Node>(null, "n1", new ObjectPatch(PatchKind.Merge, """{"spec":{"podCIDR":"10.244.7.0/24","podCIDRs":["10.244.7.0/24"]}}"""));
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run!;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        await _store.DisposeAsync();
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string because) =>
        (await Eventually.HoldsAsync(condition, 200, TimeSpan.FromMilliseconds(25))).Should().BeTrue(because);

    [Fact]
    public async Task The_node_registers_with_its_capacity_and_keeps_a_lease()
    {
        var node = await _client.GetAsync<V1Node>(null, "n1");

        node.Status.Allocatable["cpu"].ToString().Should().Be("2");
        node.Status.Conditions.Single(c => c.Type == "Ready").Status.Should().Be("True");
        node.Status.NodeInfo.ContainerRuntimeVersion.Should().Be("simulated://0.1.0");
        node.Metadata.Labels["kubernetes.io/hostname"].Should().Be("n1");
        await EventuallyAsync(async () => (await _client.ListAsync<V1Lease>("kube-node-lease")).Items.Any(l => l.Metadata.Name == "n1"), "the node agent holds its lease");
    }

    [Fact]
    public async Task A_pod_bound_here_runs_with_an_ip_from_the_node_cidr_and_its_sandbox_goes_with_it()
    {
        await _client.CreateAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "default" },
            Spec = new V1PodSpec { NodeName = "n1", Containers = [new V1Container { Name = "a", Image = "busybox" }, new V1Container { Name = "b", Image = "busybox" }] },
        });

        await EventuallyAsync(async () => (await _client.GetAsync<V1Pod>("default", "web")).Status?.Phase == "Running", "the pod runs");
        var pod = await _client.GetAsync<V1Pod>("default", "web");
        await _client.DeleteAsync<V1Pod>("default", "web");
        await EventuallyAsync(async () => (await _runtime.ListPodSandboxesAsync(CancellationToken.None)).Count == 0, "the deleted pod's sandbox is removed");

        pod.Status.PodIP.Should().StartWith("10.244.7.");
        pod.Status.Conditions.Single(c => c.Type == "Ready").Status.Should().Be("True");
        pod.Status.ContainerStatuses.Select(c => $"{c.Name}:{c.Ready}:{c.State.Running is not null}").Should().BeEquivalentTo("a:True:True", "b:True:True");
        (await _runtime.ListContainersAsync(null, CancellationToken.None)).Should().BeEmpty();
    }
}
