namespace Orchestration.Controllers;

/// <summary>Settings of the <see cref="GarbageCollector"/>.</summary>
public sealed class GarbageCollectorOptions
{
    /// <summary>How long to wait before watching a kind again after its watch failed.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often to look for kinds that appeared (custom resources) and start watching them.</summary>
    public TimeSpan KindScanInterval { get; set; } = TimeSpan.FromSeconds(2);
}
