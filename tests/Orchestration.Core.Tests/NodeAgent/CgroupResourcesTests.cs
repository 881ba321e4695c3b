using k8s.Models;
using Orchestration.NodeAgent;
using Orchestration.Runtime;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>Requests and limits as kubelet turns them into cgroup values.</summary>
[Trait("Category", "Unit")]
public sealed class CgroupResourcesTests
{
    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(250, 256)]
    [InlineData(1000, 1024)]
    [InlineData(1500, 1536)]
    [InlineData(1_000_000, 262_144)]
    public void Cpu_shares_are_millicores_times_1024_over_1000_between_2_and_262144(long milliCpu, long shares)
    {
        CgroupResources.Shares(milliCpu).Should().Be(shares);
    }

    [Fact]
    public void Limits_become_quota_per_100ms_period_and_memory_bytes_and_the_request_becomes_shares()
    {
        var container = Container(requests: new() { ["cpu"] = new("250m") }, limits: new() { ["cpu"] = new("500m"), ["memory"] = new("20Mi") });

        CgroupResources.For(container).Should().Be(new ContainerResources(CpuPeriod: 100_000, CpuQuota: 50_000, CpuShares: 256, MemoryLimitInBytes: 20 * 1024 * 1024));
    }

    [Fact]
    public void Without_a_cpu_request_the_limit_gives_the_shares()
    {
        var container = Container(requests: null, limits: new() { ["cpu"] = new("2") });

        CgroupResources.For(container).Should().Be(new ContainerResources(100_000, 200_000, 2048, 0));
    }

    [Fact]
    public void Nothing_set_means_no_quota_no_memory_limit_and_minimal_shares()
    {
        CgroupResources.For(new V1Container { Name = "app" }).Should().Be(new ContainerResources(100_000, 0, 2, 0));
    }

    [Fact]
    public void A_tiny_cpu_limit_still_gets_a_1ms_quota()
    {
        CgroupResources.For(Container(null, new() { ["cpu"] = new("1m") })).CpuQuota.Should().Be(1000);
    }

    private static V1Container Container(Dictionary<string, ResourceQuantity>? requests, Dictionary<string, ResourceQuantity>? limits) =>
        new() { Name = "app", Resources = new V1ResourceRequirements { Requests = requests, Limits = limits } };
}
