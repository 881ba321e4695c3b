using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Hosting;
using Orchestration.TestKit;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>The controller runtime end to end in one process: registration, owned kinds, retries, leader election.</summary>
[Trait("Category", "Unit")]
public sealed class ControllerManagerTests
{
    /// <summary>Keeps a Secret beside every ConfigMap, owned by it; fails its first attempts at "flaky".</summary>
    private sealed class MirrorController(IClusterClient client) : IController
    {
        public ConcurrentDictionary<string, int> Attempts { get; } = new();

        public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
        {
            var attempt = Attempts.AddOrUpdate(key.Name, 1, (_, n) => n + 1);
            if (key.Name == "flaky" && attempt < 3)
            {
                throw new InvalidOperationException("not yet");
            }

            V1ConfigMap map;
            try
            {
                map = await client.GetAsync<V1ConfigMap>(key.Namespace, key.Name, cancellationToken);
            }
            catch (NotFoundException)
            {
                return ReconcileResult.Done;
            }

            try
            {
                await client.CreateAsync(new V1Secret
                {
                    Metadata = new V1ObjectMeta
                    {
                        Name = key.Name,
                        NamespaceProperty = key.Namespace,
                        OwnerReferences = [new V1OwnerReference { ApiVersion = "v1", Kind = "ConfigMap", Name = map.Metadata.Name, Uid = map.Metadata.Uid, Controller = true }],
                    },
                }, cancellationToken);
            }
            catch (AlreadyExistsException)
            {
            }

            return ReconcileResult.Done;
        }
    }

    private static Task<bool> EventuallyAsync(Func<Task<bool>> condition) => Eventually.HoldsAsync(condition, 200, TimeSpan.FromMilliseconds(25));

    private static async Task<bool> SecretExistsAsync(IClusterClient client, string name)
    {
        try
        {
            await client.GetAsync<V1Secret>("default", name);
            return true;
        }
        catch (NotFoundException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_registered_controller_reconciles_its_kind_follows_what_it_owns_and_retries_failures(bool leaderElection)
    {
        var services = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>))
            .AddController<MirrorController>(c => c.For<V1ConfigMap>().Owns<V1Secret, V1ConfigMap>())
            .Configure<ControllerManagerOptions>(o =>
            {
                o.LeaderElection = leaderElection;
                o.Queues.BaseDelay = TimeSpan.FromMilliseconds(10);
            });
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IClusterClient>();
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "kube-system" } });
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        try
        {
            await client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "plain", NamespaceProperty = "default" } });
            await client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "flaky", NamespaceProperty = "default" } });
            (await EventuallyAsync(() => SecretExistsAsync(client, "plain"))).Should().BeTrue("the controller reconciles new objects of its kind");
            (await EventuallyAsync(() => SecretExistsAsync(client, "flaky"))).Should().BeTrue("a failing key is retried until it succeeds");

            await client.DeleteAsync<V1Secret>("default", "plain");
            (await EventuallyAsync(() => SecretExistsAsync(client, "plain"))).Should().BeTrue("a change to an owned object reconciles its owner");

            var controller = provider.GetRequiredService<MirrorController>();
            controller.Attempts["flaky"].Should().BeGreaterThanOrEqualTo(3);
            if (leaderElection)
            {
                (await client.GetAsync<V1Lease>("kube-system", "orchestration-controller-manager")).Spec.HolderIdentity.Should().NotBeNullOrEmpty();
            }
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
