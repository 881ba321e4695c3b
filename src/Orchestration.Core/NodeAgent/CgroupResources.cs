using k8s.Models;
using Orchestration.Runtime;
using Orchestration.Scheduling;

namespace Orchestration.NodeAgent;

/// <summary>
/// A container's requests and limits as the cgroup values kubelet gives the runtime: the CPU request
/// becomes shares (millicores × 1024 / 1000, at least 2), the CPU limit a CFS quota per 100 ms
/// period, the memory limit the memory limit in bytes.
/// </summary>
internal static class CgroupResources
{
    /// <summary>kubelet's CFS period: 100 ms, in microseconds.</summary>
    public const long CpuPeriod = 100_000;

    private const long MinShares = 2;
    private const long MaxShares = 262_144;
    private const long MinQuota = 1_000;

    /// <summary>The cgroup values of <paramref name="container"/>.</summary>
    public static ContainerResources For(V1Container container)
    {
        var requests = ResourceAmounts.From(container.Resources?.Requests);
        var limits = ResourceAmounts.From(container.Resources?.Limits);

        // An unset CPU request defaults to the limit, as the API server's defaults and kubelet both do.
        var requestSet = container.Resources?.Requests?.ContainsKey("cpu") == true;
        var shares = Shares(requestSet ? requests.MilliCpu : limits.MilliCpu);
        return new ContainerResources(CpuPeriod, Quota(limits.MilliCpu), shares, Math.Max(0, limits.MemoryBytes));
    }

    /// <summary>kubelet's MilliCPUToShares: no request gets the kernel's minimum, not its default of 1024.</summary>
    public static long Shares(long milliCpu)
    {
        if (milliCpu <= 0)
        {
            return MinShares;
        }

        return Math.Clamp(milliCpu * 1024 / 1000, MinShares, MaxShares);
    }

    /// <summary>kubelet's milliCPUToQuota: zero (no limit) without one, else at least 1 ms per period.</summary>
    public static long Quota(long milliCpu)
    {
        if (milliCpu <= 0)
        {
            return 0;
        }

        return Math.Max(milliCpu * CpuPeriod / 1000, MinQuota);
    }
}
