namespace Orchestration.Scheduling.Queue;

/// <summary>The scheduling queue's pacing; the defaults are kube-scheduler's.</summary>
public sealed class SchedulingQueueOptions
{
    /// <summary>The backoff after a pod's first failed attempt; it doubles with each further one (podInitialBackoffSeconds).</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest backoff (podMaxBackoffSeconds).</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an unschedulable pod waits for a cluster event before it is tried anyway (podMaxInUnschedulablePodsDuration).</summary>
    public TimeSpan MaxInUnschedulable { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often pods whose backoff ended move to the active queue.</summary>
    public TimeSpan BackoffFlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often unschedulable pods are checked against <see cref="MaxInUnschedulable"/>.</summary>
    public TimeSpan UnschedulableFlushInterval { get; set; } = TimeSpan.FromSeconds(30);
}
