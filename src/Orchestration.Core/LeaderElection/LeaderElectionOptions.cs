namespace Orchestration.LeaderElection;

/// <summary>How a <see cref="LeaderElector"/> competes for its Lease (kube-controller-manager's defaults).</summary>
public sealed class LeaderElectionOptions
{
    /// <summary>The Lease's name.</summary>
    public string LeaseName { get; set; } = "orchestration-controller-manager";

    /// <summary>The Lease's namespace.</summary>
    public string LeaseNamespace { get; set; } = "kube-system";

    /// <summary>Who this candidate is; unique per process.</summary>
    public string Identity { get; set; } = $"{Environment.MachineName}_{Guid.NewGuid():N}";

    /// <summary>How long a lease holds without renewal before others may take it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long the leader keeps trying to renew before it gives up leading.</summary>
    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often candidates try to acquire, and the leader to renew.</summary>
    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);
}
