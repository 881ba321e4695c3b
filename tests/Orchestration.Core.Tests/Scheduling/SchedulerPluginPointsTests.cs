using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Hosting;
using Orchestration.Scheduling;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>Plugins registered at Reserve and Bind are called by the scheduler in the controller manager, as kube-scheduler's framework calls them.</summary>
[Trait("Category", "Unit")]
public sealed class SchedulerPluginPointsTests : IAsyncLifetime
{
    private readonly ServiceProvider _provider;
    private readonly IClusterClient _client;
    private readonly RecordingPlugin _plugin = new();
    private List<IHostedService> _hosted = [];

    public SchedulerPluginPointsTests()
    {
        var services = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddSingleton(_plugin)
            .AddOrchestrationScheduler()
            .Configure<ControllerManagerOptions>(o => o.LeaderElection = false);

        // What the master builder's AddSchedulerPlugin<T>() registers.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ISchedulingPlugin, RecordingPlugin>(sp => sp.GetRequiredService<RecordingPlugin>()));
        _provider = services.BuildServiceProvider();
        _client = _provider.GetRequiredService<IClusterClient>();
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        var node = await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "n1" } });
        node.Status = new V1NodeStatus { Allocatable = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("4"), ["memory"] = new("4Gi"), ["pods"] = new("110") } };
        await _client.UpdateStatusAsync(node);
        _hosted = _provider.GetServices<IHostedService>().ToList();
        foreach (var service in _hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var service in _hosted)
        {
            await service.StopAsync(CancellationToken.None);
        }

        await _provider.DisposeAsync();
    }

    [Fact]
    public void A_plugin_added_with_the_master_builder_joins_the_default_scheduler()
    {
        var services = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddOrchestrationMaster().AddSchedulerPlugin<RecordingPlugin>();
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IScheduler>().Should().BeOfType<DefaultScheduler>()
            .Which.BindPlugins.Should().ContainSingle(p => p is RecordingPlugin);
    }

    [Fact]
    public void A_queue_sort_plugin_added_after_the_standard_ones_orders_the_queue()
    {
        var fifo = new FifoSort();
        new DefaultScheduler(DefaultScheduler.DefaultPlugins().Append(fifo)).QueueSort.Should().BeSameAs(fifo, "a queue has one order, and the user's replaces PrioritySort");
    }

    [Fact]
    public async Task Reserve_is_called_with_the_chosen_node_and_a_declining_bind_plugin_leaves_the_pod_to_the_default_binder()
    {
        await PodAsync("plain");
        var bound = await EventuallyAsync(() => _client.GetAsync<V1Pod>("default", "plain"), p => p.Spec.NodeName is not null);

        bound.Spec.NodeName.Should().Be("n1");
        _plugin.Calls.Should().ContainInOrder("reserve default/plain on n1", "bind default/plain to n1 (declined)");
        _plugin.Calls.Should().NotContain(c => c.StartsWith("unreserve", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_bind_plugin_that_fails_gets_its_reservation_undone_and_the_pod_is_tried_again()
    {
        _plugin.FailOnce.TryAdd("default/flaky", 0);
        await PodAsync("flaky");
        var bound = await EventuallyAsync(() => _client.GetAsync<V1Pod>("default", "flaky"), p => p.Spec.NodeName is not null, seconds: 30);

        bound.Spec.NodeName.Should().Be("n1", "the second attempt binds");
        _plugin.Calls.Where(c => c.Contains("default/flaky", StringComparison.Ordinal)).Should().ContainInOrder(
            "reserve default/flaky on n1", "bind default/flaky to n1 (failed)", "unreserve default/flaky on n1", "reserve default/flaky on n1", "bind default/flaky to n1 (declined)");
    }

    [Fact]
    public async Task A_bind_plugin_that_binds_takes_the_place_of_the_default_binder()
    {
        _plugin.Claim.TryAdd("default/claimed", 0);
        await PodAsync("claimed");

        // The Scheduled event is recorded once the binding cycle has bound the pod.
        await EventuallyAsync(() => _client.ListAsync<Corev1Event>("default"), l => l.Items.Any(e => e.Reason == "Scheduled" && e.InvolvedObject.Name == "claimed"));
        _plugin.Calls.Should().Contain("bind default/claimed to n1 (bound)");
        (await _client.GetAsync<V1Pod>("default", "claimed")).Spec.NodeName.Should().BeNull("the plugin bound it its own way (here: not at all), so the pods/binding subresource was not written");
    }

    private Task<V1Pod> PodAsync(string name) => _client.CreateAsync(new V1Pod
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] },
    });

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> condition, int seconds = 10)
    {
        var value = await read();
        var held = await Eventually.HoldsAsync(async () => condition(value = await read()), seconds * 50, TimeSpan.FromMilliseconds(20));
        held.Should().BeTrue($"the condition holds within {seconds} s (last: {value})");
        return value;
    }

    private sealed class FifoSort : IQueueSortPlugin
    {
        public string Name => "Fifo";

        public int Compare(SchedulingPod x, SchedulingPod y) => 0;
    }

    /// <summary>Records every call; declines to bind unless told to claim a pod, and fails once for pods told to.</summary>
    private sealed class RecordingPlugin : IReservePlugin, IBindPlugin
    {
        public string Name => "Recording";

        public ConcurrentQueue<string> CallLog { get; } = new();

        public IReadOnlyList<string> Calls => [.. CallLog];

        public ConcurrentDictionary<string, byte> FailOnce { get; } = new();

        public ConcurrentDictionary<string, byte> Claim { get; } = new();

        public void Reserve(SchedulingPod pod, SchedulingNode node) => CallLog.Enqueue($"reserve {pod.Key} on {node.Name}");

        public void Unreserve(SchedulingPod pod, SchedulingNode node) => CallLog.Enqueue($"unreserve {pod.Key} on {node.Name}");

        public Task<bool> BindAsync(SchedulingPod pod, string nodeName, CancellationToken cancellationToken)
        {
            if (FailOnce.TryRemove(pod.Key, out _))
            {
                CallLog.Enqueue($"bind {pod.Key} to {nodeName} (failed)");
                throw new InvalidOperationException("the plugin's own binding failed");
            }

            var claimed = Claim.ContainsKey(pod.Key);
            CallLog.Enqueue($"bind {pod.Key} to {nodeName} ({(claimed ? "bound" : "declined")})");
            return Task.FromResult(claimed);
        }
    }
}
