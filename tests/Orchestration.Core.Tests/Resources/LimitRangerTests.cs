using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Admission;
using Orchestration.State;

namespace Orchestration.Core.Tests.Resources;

/// <summary>LimitRanger: a namespace's Container limits fill in what a pod leaves out and bound what it asks, before quotas count it.</summary>
[Trait("Category", "Unit")]
public sealed class LimitRangerTests
{
    private readonly LocalClusterClient _client = new(new ObjectRegistry(new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }), ResourceKindTable.CreateDefault(), TimeProvider.System));

    [Fact]
    public async Task Defaults_fill_unset_requests_and_limits_so_a_quota_that_needs_them_counts_the_pod()
    {
        await SetUpAsync();
        await _client.CreateAsync(new V1ResourceQuota { Metadata = new V1ObjectMeta { Name = "compute", NamespaceProperty = "team" }, Spec = new V1ResourceQuotaSpec { Hard = new Dictionary<string, ResourceQuantity> { ["requests.cpu"] = new("1") } } });

        var created = await _client.CreateAsync(Pod("bare", limitCpu: null));

        var resources = created.Spec.Containers[0].Resources;
        (resources.Requests["cpu"].ToString(), resources.Requests["memory"].ToString(), resources.Limits["cpu"].ToString(), resources.Limits["memory"].ToString())
            .Should().Be(("250m", "64Mi", "500m", "128Mi"));
        created.Metadata.Annotations[LimitRanger.Annotation].Should().Be("LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main");
    }

    [Fact]
    public async Task A_limit_over_the_max_is_refused_in_kube_apiservers_words()
    {
        await SetUpAsync();

        var refused = await ((Func<Task>)(() => _client.CreateAsync(Pod("greedy", limitCpu: "2")))).Should().ThrowAsync<ForbiddenException>();

        refused.Which.Message.Should().Be("pods \"greedy\" is forbidden: [maximum cpu usage per Container is 1, but limit is 2]");
        (await _client.ListAsync<V1Pod>("team")).Items.Should().BeEmpty();
    }

    [Fact]
    public async Task A_pod_item_bounds_the_pods_total_and_a_ratio_bounds_each_containers_limit_over_its_request()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        await _client.CreateAsync(new V1LimitRange
        {
            Metadata = new V1ObjectMeta { Name = "pods", NamespaceProperty = "team" },
            Spec = new V1LimitRangeSpec
            {
                Limits =
                [
                    new V1LimitRangeItem { Type = "Pod", Max = new Dictionary<string, ResourceQuantity> { ["memory"] = new("256Mi") }, Min = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("100m") } },
                    new V1LimitRangeItem { Type = "Container", MaxLimitRequestRatio = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("2") } },
                ],
            },
        });
        V1Pod Pod(string name, params (string Cpu, string CpuLimit, string Memory)[] containers) => new()
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "team" },
            Spec = new V1PodSpec
            {
                Containers = [.. containers.Select((c, i) => new V1Container
                {
                    Name = $"c{i}",
                    Image = "busybox",
                    Resources = new V1ResourceRequirements
                    {
                        Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(c.Cpu) },
                        Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(c.CpuLimit), ["memory"] = new(c.Memory) },
                    },
                })],
            },
        };

        await _client.CreateAsync(Pod("fits", ("50m", "100m", "128Mi"), ("50m", "100m", "128Mi")));
        var tooBig = await ((Func<Task>)(() => _client.CreateAsync(Pod("big", ("100m", "200m", "128Mi"), ("100m", "200m", "192Mi"))))).Should().ThrowAsync<ForbiddenException>();
        var tooSmall = await ((Func<Task>)(() => _client.CreateAsync(Pod("small", ("50m", "100m", "64Mi"))))).Should().ThrowAsync<ForbiddenException>();
        var ratio = await ((Func<Task>)(() => _client.CreateAsync(Pod("bursty", ("100m", "400m", "64Mi"))))).Should().ThrowAsync<ForbiddenException>();

        tooBig.Which.Message.Should().Be("pods \"big\" is forbidden: [maximum memory usage per Pod is 256Mi, but limit is 320Mi]");
        tooSmall.Which.Message.Should().Be("pods \"small\" is forbidden: [minimum cpu usage per Pod is 100m, but request is 50m]");
        ratio.Which.Message.Should().Be("pods \"bursty\" is forbidden: [cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000]");
        (await _client.ListAsync<V1Pod>("team")).Items.Select(p => p.Metadata.Name).Should().Equal("fits");
    }

    private async Task SetUpAsync()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        await _client.CreateAsync(new V1LimitRange
        {
            Metadata = new V1ObjectMeta { Name = "limits", NamespaceProperty = "team" },
            Spec = new V1LimitRangeSpec
            {
                Limits =
                [
                    new V1LimitRangeItem
                    {
                        Type = "Container",
                        DefaultProperty = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("500m"), ["memory"] = new("128Mi") },
                        DefaultRequest = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("250m"), ["memory"] = new("64Mi") },
                        Max = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1") },
                    },
                ],
            },
        });
    }

    private static V1Pod Pod(string name, string? limitCpu)
    {
        var container = new V1Container { Name = "main", Image = "busybox" };
        if (limitCpu is not null)
        {
            container.Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(limitCpu) } };
        }

        return new V1Pod { Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "team" }, Spec = new V1PodSpec { Containers = [container] } };
    }
}
