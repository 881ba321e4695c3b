using k8s.Models;

namespace Orchestration.NodeAgent;

/// <summary>Which of a container's probes.</summary>
internal enum ProbeKind
{
    /// <summary>Gates the other two until the container has started; failing it restarts the container.</summary>
    Startup,

    /// <summary>Failing it restarts the container.</summary>
    Liveness,

    /// <summary>Failing it takes the container (and the pod) out of Ready.</summary>
    Readiness,
}

/// <summary>
/// One probe of one running container: when it is due and what its consecutive results add up to.
/// A result flips only after successThreshold successes or failureThreshold failures in a row, as
/// kubelet's prober does; until the first flip liveness counts as passing, readiness as failing and
/// startup as not yet passed.
/// </summary>
internal sealed class ProbeTracker(ProbeKind kind, V1Probe spec, string containerId, string containerName, DateTimeOffset startedAt)
{
    private int _successes;
    private int _failures;

    /// <summary>Which probe.</summary>
    public ProbeKind Kind { get; } = kind;

    /// <summary>Its spec.</summary>
    public V1Probe Spec { get; } = spec;

    /// <summary>The container probed.</summary>
    public string ContainerId { get; } = containerId;

    /// <summary>Its name in the pod.</summary>
    public string ContainerName { get; } = containerName;

    /// <summary>Passing (true), failing (false) or not known yet (null).</summary>
    public bool? Passed { get; private set; } = kind switch
    {
        ProbeKind.Liveness => true,
        ProbeKind.Readiness => false,
        _ => null,
    };

    /// <summary>When it runs next: not before initialDelaySeconds after the container started.</summary>
    public DateTimeOffset DueAt { get; private set; } = startedAt + TimeSpan.FromSeconds(spec.InitialDelaySeconds ?? 0);

    /// <summary>The probe's timeout (timeoutSeconds, default 1 s).</summary>
    public TimeSpan Timeout => TimeSpan.FromSeconds(Math.Max(1, Spec.TimeoutSeconds ?? 1));

    /// <summary>Counts one result; true when <see cref="Passed"/> changed.</summary>
    public bool Record(bool success, DateTimeOffset now)
    {
        DueAt = now + TimeSpan.FromSeconds(Math.Max(1, Spec.PeriodSeconds ?? 10));
        if (success)
        {
            _failures = 0;
            _successes++;
            if (Passed != true && _successes >= Math.Max(1, Spec.SuccessThreshold ?? 1))
            {
                Passed = true;
                return true;
            }
        }
        else
        {
            _successes = 0;
            _failures++;
            if (Passed != false && _failures >= Math.Max(1, Spec.FailureThreshold ?? 3))
            {
                Passed = false;
                return true;
            }
        }

        return false;
    }
}
