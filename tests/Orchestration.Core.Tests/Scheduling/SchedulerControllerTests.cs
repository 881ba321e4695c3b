using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Hosting;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>The scheduler in the controller manager: pending pods are placed and bound; those that fit nowhere wait with an event and come back when a node does.</summary>
[Trait("Category", "Unit")]
public sealed class SchedulerControllerTests : IAsyncLifetime
{
    private readonly ServiceProvider _provider;
    private readonly IClusterClient _client;
    private List<IHostedService> _hosted = [];

    public SchedulerControllerTests()
    {
        _provider = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddOrchestrationScheduler()
            .Configure<ControllerManagerOptions>(o => o.LeaderElection = false)
            .BuildServiceProvider();
        _client = _provider.GetRequiredService<IClusterClient>();
    }

    public async Task InitializeAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
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

    private async Task NodeAsync(string name, string cpu)
    {
        var node = await _client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = name } });
        node.Status = new V1NodeStatus { Allocatable = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu), ["memory"] = new("4Gi"), ["pods"] = new("110") } };
        await _client.UpdateStatusAsync(node);
    }

    private Task<V1Pod> PodAsync(string name, string cpu, int? priority = null, string? preemptionPolicy = null) => _client.CreateAsync(new V1Pod
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1PodSpec
        {
            Priority = priority,
            PreemptionPolicy = preemptionPolicy,
            Containers = [new V1Container { Name = "c", Image = "busybox", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(cpu) } } }],
        },
    });

    private async Task<bool> GoneAsync(string name)
    {
        for (var i = 0; i < 200; i++)
        {
            if (!(await _client.ListAsync<V1Pod>("default")).Items.Any(p => p.Metadata.Name == name))
            {
                return true;
            }

            await Task.Delay(25);
        }

        return false;
    }

    private async Task<V1Pod> EventuallyAsync(string name, Func<V1Pod, bool> condition)
    {
        V1Pod pod = await _client.GetAsync<V1Pod>("default", name);
        for (var i = 0; i < 200 && !condition(pod); i++)
        {
            await Task.Delay(25);
            pod = await _client.GetAsync<V1Pod>("default", name);
        }

        return pod;
    }

    [Fact]
    public async Task Pending_pods_are_spread_over_nodes_with_room_and_bound_with_an_event()
    {
        await NodeAsync("n1", "1");
        await NodeAsync("n2", "1");
        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            await PodAsync(name, "400m");
        }

        var placed = new List<string>();
        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            placed.Add((await EventuallyAsync(name, p => p.Spec.NodeName is not null)).Spec.NodeName);
        }

        placed.GroupBy(n => n).Select(g => g.Count()).Should().BeEquivalentTo([2, 2], "no node takes more than its cpu allows, even before the cache shows earlier bindings");

        // The event follows the binding (the binding cycle records it once the bind is written).
        IReadOnlyList<Corev1Event> events = [];
        var recorded = await Orchestration.TestKit.Eventually.HoldsAsync(async () =>
        {
            events = (await _client.ListAsync<Corev1Event>("default")).Items;
            return events.Any(e => e.Reason == "Scheduled" && e.InvolvedObject.Name == "a");
        }, 100, TimeSpan.FromMilliseconds(20));
        recorded.Should().BeTrue();
        events.Should().Contain(e => e.Reason == "Scheduled" && e.InvolvedObject.Name == "a" && e.Message.StartsWith("Successfully assigned default/a to n", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pod_that_fits_nowhere_waits_with_failed_scheduling_and_goes_when_a_node_fits()
    {
        await NodeAsync("small", "1");
        await PodAsync("big", "2");

        // The first attempt may come before the scheduler's cache has the node ("0/0 nodes"): wait for the verdict about it.
        var waiting = await EventuallyAsync("big", p => p.Status?.Conditions?.Any(c => c.Type == "PodScheduled" && c.Status == "False" && c.Message.Contains("Insufficient cpu", StringComparison.Ordinal)) == true);
        var failed = (await _client.ListAsync<Corev1Event>("default")).Items.Where(e => e.Reason == "FailedScheduling").ToList();
        await NodeAsync("large", "4");
        var placed = await EventuallyAsync("big", p => p.Spec.NodeName is not null);

        waiting.Status.Conditions.Single(c => c.Type == "PodScheduled").Reason.Should().Be("Unschedulable");
        failed.Should().Contain(e => e.Message.StartsWith("0/1 nodes are available: 1 Insufficient cpu.", StringComparison.Ordinal) && e.Type == "Warning");
        placed.Spec.NodeName.Should().Be("large", "a new node that fits brings the pending pod back");
    }

    [Fact]
    public async Task A_higher_priority_pod_preempts_a_lower_one_and_takes_its_place()
    {
        await NodeAsync("only", "1");
        await PodAsync("low", "800m", priority: 1);
        await EventuallyAsync("low", p => p.Spec.NodeName is not null);

        await PodAsync("urgent", "500m", priority: 1000);
        var nominated = await EventuallyAsync("urgent", p => p.Status?.NominatedNodeName is not null || p.Spec.NodeName is not null);
        var victimGone = await GoneAsync("low");
        var placed = await EventuallyAsync("urgent", p => p.Spec.NodeName is not null);

        (nominated.Status?.NominatedNodeName ?? nominated.Spec.NodeName).Should().Be("only");
        victimGone.Should().BeTrue();
        placed.Spec.NodeName.Should().Be("only");
        var events = (await _client.ListAsync<Corev1Event>("default")).Items;
        events.Should().Contain(e => e.Reason == "Preempted" && e.InvolvedObject.Name == "low" && e.Message.EndsWith("on node only", StringComparison.Ordinal));
        events.Should().Contain(e => e.Reason == "FailedScheduling" && e.InvolvedObject.Name == "urgent" && e.Message == "0/1 nodes are available: 1 Insufficient cpu.");
    }

    [Fact]
    public async Task A_pod_that_may_not_preempt_waits_and_goes_when_a_pod_is_deleted()
    {
        await NodeAsync("only", "1");
        await PodAsync("low", "800m", priority: 1);
        await EventuallyAsync("low", p => p.Spec.NodeName is not null);

        await PodAsync("polite", "500m", priority: 1000, preemptionPolicy: "Never");
        var waiting = await EventuallyAsync("polite", p => p.Status?.Conditions?.Any(c => c.Type == "PodScheduled" && c.Status == "False") == true);
        await _client.DeleteAsync<V1Pod>("default", "low");
        var placed = await EventuallyAsync("polite", p => p.Spec.NodeName is not null);

        waiting.Status.Conditions.Single(c => c.Type == "PodScheduled").Message.Should().Be("0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.");
        placed.Spec.NodeName.Should().Be("only", "the deletion of a bound pod is a cluster event that brings unschedulable pods back");
    }
}
