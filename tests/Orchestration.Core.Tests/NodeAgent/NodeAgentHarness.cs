using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Resources;
using Orchestration.Runtime;
using Orchestration.State;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>
/// One node agent ("n1", pod CIDR 10.244.7.0/24) over a simulated runtime and the in-memory store,
/// all on a fake clock the test moves one second at a time.
/// </summary>
internal sealed class NodeAgentHarness : IAsyncDisposable
{
    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly Action<NodeAgentOptions>? _configure;
    private readonly Func<SimulatedRuntime, INodeRuntime>? _wrap;
    private CancellationTokenSource? _stop;
    private Task? _run;

    private NodeAgentHarness(Action<NodeAgentOptions>? configure, bool gracefulPodDeletion, Func<SimulatedRuntime, INodeRuntime>? wrap)
    {
        _configure = configure;
        _wrap = wrap;
        Runtime = new SimulatedRuntime(Time);
        Client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), Time) { GracefulPodDeletion = gracefulPodDeletion });
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public SimulatedRuntime Runtime { get; }

    /// <summary>The agent's root directory (pods' volumes), a fresh one per harness so parallel tests never sweep each other's.</summary>
    public string RootDirectory { get; } = Directory.CreateTempSubdirectory("orch-agent-").FullName;

    public LocalClusterClient Client { get; }

    public static async Task<NodeAgentHarness> StartAsync(Action<NodeAgentOptions>? configure = null, bool gracefulPodDeletion = false, Func<SimulatedRuntime, INodeRuntime>? wrap = null)
    {
        var harness = new NodeAgentHarness(configure, gracefulPodDeletion, wrap);
        foreach (var ns in new[] { "default", "kube-node-lease" })
        {
            await harness.Client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        }

        await harness.StartAgentAsync();
        await harness.Client.PatchAsync<V1Node>(null, "n1", new ObjectPatch(PatchKind.Merge, """{"spec":{"podCIDR":"10.244.7.0/24","podCIDRs":["10.244.7.0/24"]}}"""));
        return harness;
    }

    /// <summary>Starts a node agent (again) over the same runtime and store.</summary>
    public async Task StartAgentAsync()
    {
        var options = new NodeAgentOptions { NodeName = "n1", Cpu = "2", Memory = "4Gi", RootDirectory = RootDirectory };
        _configure?.Invoke(options);
        _stop = new CancellationTokenSource();
        var agent = new Orchestration.NodeAgent.NodeAgent(Client, _wrap?.Invoke(Runtime) ?? Runtime, options, Time);
        _run = agent.RunAsync(_stop.Token);
        await EventuallyAsync(async () => (await Client.ListAsync<V1Node>(null)).Items.Any(n => n.Status?.Conditions is not null), "the node registers");
    }

    /// <summary>Stops the node agent; the runtime keeps what runs, as containerd does when kubelet restarts.</summary>
    public async Task StopAgentAsync()
    {
        await _stop!.CancelAsync();
        try
        {
            await _run!;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _stop = null;
    }

    public static V1Pod Pod(string name, string restartPolicy, params V1Container[] containers) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1PodSpec { NodeName = "n1", RestartPolicy = restartPolicy, Containers = containers },
    };

    public static V1Container Container(string name, params string[] command) =>
        new() { Name = name, Image = "busybox", Command = command.Length == 0 ? null : command };

    public Task<V1Pod> CreateAsync(V1Pod pod) => Client.CreateAsync(pod);

    public Task<V1Pod> GetAsync(string name) => Client.GetAsync<V1Pod>("default", name);

    /// <summary>Waits (in real time, boundedly) until the pod satisfies <paramref name="condition"/>, and returns it.</summary>
    public async Task<V1Pod> WaitForAsync(string name, Func<V1Pod, bool> condition, string because)
    {
        V1Pod? last = null;
        var held = await Eventually.HoldsAsync(
            async () =>
            {
                try
                {
                    last = await GetAsync(name);
                    return condition(last);
                }
                catch (NotFoundException)
                {
                    return false;
                }
            },
            400,
            TimeSpan.FromMilliseconds(25));
        held.Should().BeTrue($"{because} (last status: {(last?.Status is null ? "none" : k8s.KubernetesJson.Serialize(last.Status))})");
        return last!;
    }

    /// <summary>Moves the fake clock by whole seconds, one tick of the relist at a time.</summary>
    public async Task AdvanceAsync(int seconds)
    {
        for (var i = 0; i < seconds; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(1));

            // Lets the agent's loops run on what this second brought before the next one comes.
            await Task.Delay(15);
        }
    }

    /// <summary>
    /// Moves the clock a second at a time until the pod satisfies <paramref name="condition"/>, for
    /// outcomes that take several relist ticks (probe thresholds): on a busy machine two seconds may
    /// reach the agent as one tick, so counting ticks exactly would be flaky.
    /// </summary>
    public async Task<V1Pod> AdvanceUntilAsync(string name, Func<V1Pod, bool> condition, string because, int maxSeconds)
    {
        V1Pod? last = null;
        for (var second = 0; second <= maxSeconds; second++)
        {
            if (await Eventually.HoldsAsync(
                async () =>
                {
                    last = await GetAsync(name);
                    return condition(last);
                },
                8,
                TimeSpan.FromMilliseconds(25)))
            {
                return last!;
            }

            Time.Advance(TimeSpan.FromSeconds(1));
        }

        return await WaitForAsync(name, condition, $"{because}, within {maxSeconds} s");
    }

    /// <summary>The running or exited containers of a pod's sandbox in the runtime.</summary>
    public async Task<IReadOnlyList<ContainerStatus>> ContainersAsync(string podName)
    {
        var sandboxes = await Runtime.ListPodSandboxesAsync(CancellationToken.None);
        var ids = sandboxes.Where(s => s.Config.Name == podName).Select(s => s.Id).ToHashSet();
        return (await Runtime.ListContainersAsync(null, CancellationToken.None)).Where(c => ids.Contains(c.SandboxId)).ToList();
    }

    /// <summary>The running container of that name in a pod.</summary>
    public async Task<ContainerStatus> RunningAsync(string podName, string containerName) =>
        (await ContainersAsync(podName)).Single(c => c.Name == containerName && c.State == ContainerState.Running);

    public async Task<IReadOnlyList<Corev1Event>> EventsAsync(string podName) =>
        (await Client.ListAsync<Corev1Event>("default")).Items.Where(e => e.InvolvedObject.Name == podName).ToList();

    public static async Task EventuallyAsync(Func<Task<bool>> condition, string because) =>
        (await Eventually.HoldsAsync(condition, 400, TimeSpan.FromMilliseconds(25))).Should().BeTrue(because);

    public async ValueTask DisposeAsync()
    {
        if (_stop is not null)
        {
            await StopAgentAsync();
        }

        await _store.DisposeAsync();
        Directory.Delete(RootDirectory, recursive: true);
    }
}
