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
