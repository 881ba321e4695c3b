using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Hosting;

namespace Orchestration.Core.Tests.Scheduling;

/// <summary>The scheduler runs in the controller manager, so only while this process holds the leader Lease.</summary>
[Trait("Category", "Unit")]
public sealed class SchedulerLeadershipTests
{
    [Fact]
    public async Task Pods_wait_while_another_process_leads_and_are_scheduled_once_this_one_does()
    {
        await using var provider = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddOrchestrationScheduler()
            .Configure<ControllerManagerOptions>(o =>
            {
                o.LeaderElection = true;
                o.Election.RetryPeriod = TimeSpan.FromMilliseconds(100);
            })
            .BuildServiceProvider();
        var client = provider.GetRequiredService<IClusterClient>();
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "kube-system" } });
        await client.CreateAsync(new V1Lease
        {
            Metadata = new V1ObjectMeta { Name = "orchestration-controller-manager", NamespaceProperty = "kube-system" },
            Spec = new V1LeaseSpec { HolderIdentity = "another-process", LeaseDurationSeconds = 3600, RenewTime = DateTime.UtcNow },
        });
        var node = await client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "n1" } });
        node.Status = new V1NodeStatus { Allocatable = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("4"), ["memory"] = new("4Gi"), ["pods"] = new("110") } };
        await client.UpdateStatusAsync(node);
        await client.CreateAsync(new V1Pod { Metadata = new V1ObjectMeta { Name = "p", NamespaceProperty = "default" }, Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] } });
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            var whileFollowing = (await client.GetAsync<V1Pod>("default", "p")).Spec.NodeName;

            await client.DeleteAsync<V1Lease>("kube-system", "orchestration-controller-manager");
            string? whileLeading = null;
            for (var i = 0; i < 200 && whileLeading is null; i++)
            {
                await Task.Delay(25);
                whileLeading = (await client.GetAsync<V1Pod>("default", "p")).Spec.NodeName;
            }

            whileFollowing.Should().BeNull("another process holds the Lease");
            whileLeading.Should().Be("n1");
        }
        finally
        {
            foreach (var service in hosted)
            {
                await service.StopAsync(CancellationToken.None);
            }
        }
    }
}
