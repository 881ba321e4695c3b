using k8s.Models;
using Orchestration.Controllers;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// What the node agent remembers about one pod between syncs: its sandbox, the probes of its running
/// containers, why containers wait, and the kills its probes asked for. Everything else is read again
/// from the runtime, so a new agent rebuilds it from the runtime alone.
/// </summary>
internal sealed class PodRecord(ObjectKey key, string uid)
{
    private readonly Dictionary<string, List<ProbeTracker>> _probes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Message, TimeSpan? Grace)> _kills = new(StringComparer.Ordinal);
    private readonly HashSet<string> _backOffAnnounced = new(StringComparer.Ordinal);

    /// <summary>Guards the record: workers and the relist loop both touch it.</summary>
    public Lock Sync { get; } = new();

    /// <summary>The pod's key.</summary>
    public ObjectKey Key { get; } = key;

    /// <summary>The pod's uid.</summary>
    public string Uid { get; } = uid;

    /// <summary>The pod as last seen.</summary>
    public V1Pod? Pod { get; set; }

    /// <summary>The pod's running sandbox, once it has one.</summary>
    public string? SandboxId { get; set; }

    /// <summary>The pod's IP.</summary>
    public string? PodIp { get; set; }

    /// <summary>The pod's volumes on the node by name, once set up (kept for its container restarts).</summary>
    public IReadOnlyDictionary<string, PodVolume>? Volumes { get; set; }

    /// <summary>The containers' runtime states as last seen, folded into one number the relist compares.</summary>
    public int Fingerprint { get; set; }

    /// <summary>Why containers that do not run wait (CrashLoopBackOff with kubelet's message), by name; set by each sync.</summary>
    public Dictionary<string, (string Reason, string Message)> Waiting { get; } = new(StringComparer.Ordinal);

    /// <summary>Containers the runtime failed to create or start, by name: not tried again before the retry time.</summary>
    public Dictionary<string, (DateTimeOffset RetryAt, string Reason, string Message)> StartFailures { get; } = new(StringComparer.Ordinal);

    /// <summary>The probes of each running container, by container id.</summary>
    public IEnumerable<ProbeTracker> Probes
    {
        get
        {
            lock (Sync)
            {
                return _probes.Values.SelectMany(p => p).ToList();
            }
        }
    }

    /// <summary>Folds containers' ids and states into one number: it changes when any container changes state.</summary>
    public static int FingerprintOf(IEnumerable<ContainerStatus> containers)
    {
        var sum = 0;
        foreach (var c in containers)
        {
            // A sum does not depend on the order the runtime lists them in.
            sum = unchecked(sum + HashCode.Combine(c.Id, c.State));
        }

        return sum;
    }

    /// <summary>Starts probing containers that run now and have probes, and stops probing those that do not run any more.</summary>
    public void TrackProbes(V1Pod pod, IReadOnlyList<ContainerStatus> containers)
    {
        lock (Sync)
        {
            var running = containers.Where(c => c.State == ContainerState.Running).ToDictionary(c => c.Id, StringComparer.Ordinal);
            foreach (var gone in _probes.Keys.Where(id => !running.ContainsKey(id)).ToList())
            {
                _probes.Remove(gone);
                _kills.Remove(gone);
            }

            foreach (var container in running.Values)
            {
                var spec = pod.Spec.Containers?.FirstOrDefault(c => c.Name == container.Name)
                    ?? pod.Spec.InitContainers?.FirstOrDefault(c => c.Name == container.Name && PodWorker.IsSidecar(c));
                if (spec is null || _probes.ContainsKey(container.Id))
                {
                    continue;
                }

                var started = container.StartedAt ?? DateTimeOffset.MinValue;
                var trackers = new List<ProbeTracker>();
                if (spec.StartupProbe is not null)
                {
                    trackers.Add(new ProbeTracker(ProbeKind.Startup, spec.StartupProbe, container.Id, container.Name, started));
                }

                if (spec.LivenessProbe is not null)
                {
                    trackers.Add(new ProbeTracker(ProbeKind.Liveness, spec.LivenessProbe, container.Id, container.Name, started));
                }

                if (spec.ReadinessProbe is not null)
                {
                    trackers.Add(new ProbeTracker(ProbeKind.Readiness, spec.ReadinessProbe, container.Id, container.Name, started));
                }

                _probes[container.Id] = trackers;
            }
        }
    }

    /// <summary>Whether the container's startup probe passed (true when it has none).</summary>
    public bool Started(string containerId) => Passed(containerId, ProbeKind.Startup) ?? false;

    /// <summary>Whether the container's readiness probe passes (true when it has none).</summary>
    public bool Ready(string containerId) => Passed(containerId, ProbeKind.Readiness) ?? false;

    /// <summary>Whether the liveness and readiness probes may run: the startup probe, if any, passed.</summary>
    public bool StartupGateOpen(string containerId) => Started(containerId);

    /// <summary>Asks the next sync to kill a container, with the message of the Killing event and the probe's own grace period, if it has one.</summary>
    public void RequestKill(string containerId, string message, TimeSpan? grace)
    {
        lock (Sync)
        {
            _kills[containerId] = (message, grace);
        }
    }

    /// <summary>The kills asked for since the last sync.</summary>
    public IReadOnlyList<(string ContainerId, string Message, TimeSpan? Grace)> TakeKills()
    {
        lock (Sync)
        {
            var kills = _kills.Select(k => (k.Key, k.Value.Message, k.Value.Grace)).ToList();
            _kills.Clear();
            return kills;
        }
    }

    /// <summary>True the first time a back-off is announced for this exited container, so BackOff events do not repeat each sync.</summary>
    public bool AnnounceBackOff(string exitedContainerId)
    {
        lock (Sync)
        {
            return _backOffAnnounced.Add(exitedContainerId);
        }
    }

    private bool? Passed(string containerId, ProbeKind kind)
    {
        lock (Sync)
        {
            if (!_probes.TryGetValue(containerId, out var trackers))
            {
                return true;
            }

            var tracker = trackers.FirstOrDefault(t => t.Kind == kind);
            return tracker is null ? true : tracker.Passed;
        }
    }
}
