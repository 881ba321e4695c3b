using Orchestration.Scheduling.Queue;

namespace Orchestration.Scheduling;

/// <summary>Settings of the scheduler in the controller manager.</summary>
public sealed class SchedulerOptions
{
    /// <summary>The scheduling queue's backoff and flush pacing (kube-scheduler's defaults).</summary>
    public SchedulingQueueOptions Queue { get; set; } = new();

    /// <summary>
    /// How long after a successful binding an assumed pod still counts on its node if the pod
    /// informer never shows it bound (kube-scheduler's durationToExpireAssumedPod); zero: never expires.
    /// </summary>
    public TimeSpan AssumedPodExpiry { get; set; } = TimeSpan.FromMinutes(15);
}
