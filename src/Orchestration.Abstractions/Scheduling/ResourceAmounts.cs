using k8s.Models;

namespace Orchestration.Scheduling;

/// <summary>CPU in millicores and memory in bytes, parsed once from quantities so hot paths add integers.</summary>
/// <param name="MilliCpu">CPU in thousandths of a core.</param>
/// <param name="MemoryBytes">Memory in bytes.</param>
public readonly record struct ResourceAmounts(long MilliCpu, long MemoryBytes)
{
    /// <summary>Nothing.</summary>
    public static ResourceAmounts Zero => default;

    /// <summary>The sum.</summary>
    public static ResourceAmounts operator +(ResourceAmounts a, ResourceAmounts b) => new(a.MilliCpu + b.MilliCpu, a.MemoryBytes + b.MemoryBytes);

    /// <summary>The difference.</summary>
    public static ResourceAmounts operator -(ResourceAmounts a, ResourceAmounts b) => new(a.MilliCpu - b.MilliCpu, a.MemoryBytes - b.MemoryBytes);

    /// <summary>The sum of two amounts (for languages without operators).</summary>
    public static ResourceAmounts Add(ResourceAmounts a, ResourceAmounts b) => a + b;

    /// <summary>The difference of two amounts.</summary>
    public static ResourceAmounts Subtract(ResourceAmounts a, ResourceAmounts b) => a - b;

    /// <summary>The cpu and memory of a resource list (requests, capacity, allocatable).</summary>
    public static ResourceAmounts From(IDictionary<string, ResourceQuantity>? resources)
    {
        if (resources is null)
        {
            return Zero;
        }

        long cpu = 0, memory = 0;
        if (resources.TryGetValue("cpu", out var c))
        {
            cpu = (long)Math.Ceiling(c.ToDecimal() * 1000);
        }

        if (resources.TryGetValue("memory", out var m))
        {
            memory = (long)Math.Ceiling(m.ToDecimal());
        }

        return new ResourceAmounts(cpu, memory);
    }
}
