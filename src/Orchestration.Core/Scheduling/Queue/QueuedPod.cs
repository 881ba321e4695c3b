namespace Orchestration.Scheduling.Queue;

/// <summary>A pending pod in the scheduling queue, with what the queue knows of its attempts.</summary>
public sealed class QueuedPod
{
    internal QueuedPod(SchedulingPod pod, DateTimeOffset now)
    {
        Pod = pod;
        Timestamp = now;
    }

    /// <summary>The pod as last seen.</summary>
    public SchedulingPod Pod { get; internal set; }

    /// <summary>How many times it has been taken for scheduling.</summary>
    public int Attempts { get; internal set; }

    /// <summary>When it entered the queue, or last failed: its backoff counts from here.</summary>
    public DateTimeOffset Timestamp { get; internal set; }

    /// <summary>The queue's cycle in which it was last taken (a move request in or after it sends a failed pod to backoff, not to the unschedulable pods).</summary>
    internal long Cycle { get; set; }

    /// <summary>Order of arrival, to keep equal pods in a stable order.</summary>
    internal long Sequence { get; set; }

    /// <summary>When its backoff ends.</summary>
    internal DateTimeOffset BackoffExpiry { get; set; }
}
