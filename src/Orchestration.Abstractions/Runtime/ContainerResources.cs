namespace Orchestration.Runtime;

/// <summary>
/// A container's cgroup limits, in CRI's terms (LinuxContainerResources): zero leaves a value to the
/// runtime's default.
/// </summary>
/// <param name="CpuPeriod">The CFS period in microseconds (kubelet uses 100000).</param>
/// <param name="CpuQuota">The CFS quota in microseconds per period: the CPU limit; zero for none.</param>
/// <param name="CpuShares">The relative CPU weight: the CPU request.</param>
/// <param name="MemoryLimitInBytes">The memory limit; a container above it is killed (OOMKilled). Zero for none.</param>
public sealed record ContainerResources(long CpuPeriod = 0, long CpuQuota = 0, long CpuShares = 0, long MemoryLimitInBytes = 0);
