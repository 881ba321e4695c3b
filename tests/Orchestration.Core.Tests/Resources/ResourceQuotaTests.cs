using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Quota;
using Orchestration.State;

namespace Orchestration.Core.Tests.Resources;

/// <summary>ResourceQuota admission and usage: counts and compute resources, in kube-apiserver's words.</summary>
[Trait("Category", "Unit")]
public sealed class ResourceQuotaTests
{
    private readonly LocalClusterClient _client = new(new ObjectRegistry(new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }), ResourceKindTable.CreateDefault(), TimeProvider.System));

    [Fact]
    public async Task A_pod_over_the_pods_quota_is_refused_with_the_usage_and_nothing_is_written()
    {
        await NamespaceWithQuotaAsync(new Dictionary<string, ResourceQuantity> { ["pods"] = new("2"), ["count/configmaps"] = new("1") });
        await _client.CreateAsync(Pod("a"));
        await _client.CreateAsync(Pod("b"));

        var refused = await ((Func<Task>)(() => _client.CreateAsync(Pod("c")))).Should().ThrowAsync<ForbiddenException>();
        refused.Which.Message.Should().Be("pods \"c\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2");
        (await _client.ListAsync<V1Pod>("team")).Items.Should().HaveCount(2);

        await _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "one", NamespaceProperty = "team" } });
        var second = await ((Func<Task>)(() => _client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "two", NamespaceProperty = "team" } }))).Should().ThrowAsync<ForbiddenException>();
        second.Which.Message.Should().Be("configmaps \"two\" is forbidden: exceeded quota: compute, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1");
    }

    [Fact]
    public async Task Compute_quotas_need_requests_and_count_them_with_init_containers_as_kubernetes_does()
    {
        await NamespaceWithQuotaAsync(new Dictionary<string, ResourceQuantity> { ["requests.cpu"] = new("1"), ["requests.memory"] = new("1Gi") });

        var unset = await ((Func<Task>)(() => _client.CreateAsync(Pod("bare")))).Should().ThrowAsync<ForbiddenException>();
        unset.Which.Message.Should().Be("pods \"bare\" is forbidden: failed quota: compute: must specify requests.cpu for: main; requests.memory for: main");

        await _client.CreateAsync(Pod("half", cpu: "500m", memory: "256Mi"));
        var over = await ((Func<Task>)(() => _client.CreateAsync(Pod("more", cpu: "600m", memory: "256Mi")))).Should().ThrowAsync<ForbiddenException>();
        over.Which.Message.Should().Be("pods \"more\" is forbidden: exceeded quota: compute, requested: requests.cpu=600m,requests.memory=256Mi, used: requests.cpu=500m,requests.memory=256Mi, limited: requests.cpu=1,requests.memory=1Gi");
        await _client.CreateAsync(Pod("fits", cpu: "500m", memory: "256Mi"));
    }

    [Fact]
    public void A_pods_usage_takes_the_larger_of_its_containers_sum_and_any_init_container()
    {
        var pod = Pod("p", cpu: "200m", memory: "64Mi");
        pod.Spec.Containers.Add(new V1Container { Name = "side", Image = "busybox", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("300m") } } });
        pod.Spec.InitContainers = [new V1Container { Name = "init", Image = "busybox", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1"), ["memory"] = new("32Mi") } } }];

        var usage = QuotaUsage.Of(ResourceKindTable.CreateDefault().Find("", "pods")!, ObjectConversion.ToNode(pod));

        (usage["requests.cpu"], usage["requests.memory"], usage["pods"]).Should().Be((1000, 64L << 20, 1));
        pod.Status = new V1PodStatus { Phase = "Succeeded" };
        QuotaUsage.Of(ResourceKindTable.CreateDefault().Find("", "pods")!, ObjectConversion.ToNode(pod)).Should().BeEmpty("an ended pod holds nothing");
    }

    private async Task NamespaceWithQuotaAsync(Dictionary<string, ResourceQuantity> hard)
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        await _client.CreateAsync(new V1ResourceQuota { Metadata = new V1ObjectMeta { Name = "compute", NamespaceProperty = "team" }, Spec = new V1ResourceQuotaSpec { Hard = hard } });
    }

    private static V1Pod Pod(string name, string? cpu = null, string? memory = null)
    {
        var requests = new Dictionary<string, ResourceQuantity>();
        if (cpu is not null)
        {
            requests["cpu"] = new ResourceQuantity(cpu);
        }

        if (memory is not null)
        {
            requests["memory"] = new ResourceQuantity(memory);
        }

        return new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "team" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "main", Image = "busybox", Resources = new V1ResourceRequirements { Requests = requests } }] },
        };
    }
}
