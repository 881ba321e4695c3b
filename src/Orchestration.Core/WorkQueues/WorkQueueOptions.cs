namespace Orchestration.WorkQueues;

/// <summary>How a <see cref="WorkQueue{T}"/> paces retries (client-go's defaults).</summary>
public sealed class WorkQueueOptions
{
    /// <summary>The first retry delay of a failing item; it doubles with each failure.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The longest retry delay of one item.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(1000);

    /// <summary>Retries allowed per second over all items (a token bucket).</summary>
    public double RetriesPerSecond { get; set; } = 10;

    /// <summary>How many retries may go at once before the rate applies.</summary>
    public int RetryBurst { get; set; } = 100;
}
