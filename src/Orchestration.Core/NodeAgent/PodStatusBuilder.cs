using k8s.Models;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// Writes a pod's status from what the runtime holds, in kubelet's terms: each container's state,
/// last state and restart count (its latest attempt), init containers' progress, the phase, and the
/// Initialized, ContainersReady and Ready conditions. kubectl's STATUS column (Init:1/2,
/// PodInitializing, CrashLoopBackOff, Completed, Error) is computed from these fields.
/// </summary>
internal static class PodStatusBuilder
{
    /// <summary>The waiting reason of containers not created yet while init containers run.</summary>
    public const string PodInitializing = "PodInitializing";

    /// <summary>The waiting reason of containers not created yet.</summary>
    public const string ContainerCreating = "ContainerCreating";

    /// <summary>
    /// Builds the status; <paramref name="podIp"/> is null while the pod has no sandbox (its volumes
    /// are not set up), <paramref name="final"/> marks the last status of a pod being deleted, when
    /// nothing restarts any more.
    /// </summary>
    public static V1PodStatus Build(V1Pod pod, PodRecord record, string? podIp, IReadOnlyList<ContainerStatus> containers, string runtimeName, DateTimeOffset now, bool final = false)
    {
        var attempts = containers
            .GroupBy(c => c.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(c => c.Attempt).ThenByDescending(c => c.CreatedAt).ToList(), StringComparer.Ordinal);
        var inits = pod.Spec.InitContainers ?? [];
        var apps = pod.Spec.Containers ?? [];
        var hasInits = inits.Count > 0;
        var initStatuses = inits.Select(spec => StatusOf(spec, isInit: true)).ToList();
        var appStatuses = apps.Select(spec => StatusOf(spec, isInit: false)).ToList();
        var policy = pod.Spec.RestartPolicy ?? "Always";

        // Initialized: every init container completed, every sidecar started; once app containers
        // exist it stays so, whatever a restarting sidecar does.
        var sidecars = inits.Where(PodWorker.IsSidecar).Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        bool Complete(V1ContainerStatus s) => sidecars.Contains(s.Name) ? s.Started == true : s.State.Terminated?.ExitCode == 0;
        var initialized = apps.Any(a => attempts.ContainsKey(a.Name)) || initStatuses.All(Complete);
        var phase = PhaseOf(policy, initialized, initStatuses.Where(s => !sidecars.Contains(s.Name)).ToList(), appStatuses, final);
        var terminal = phase is "Succeeded" or "Failed";
        var unready = appStatuses.Where(s => !s.Ready).Select(s => s.Name).ToList();
        var incomplete = initStatuses.Where(s => !Complete(s)).Select(s => s.Name).ToList();
        var time = Seconds(now);
        var conditions = new List<V1PodCondition>
        {
            Condition(pod, "PodScheduled", true, null, null, time),
            initialized
                ? Condition(pod, "Initialized", true, null, null, time)
                : Condition(pod, "Initialized", false, "ContainersNotInitialized", $"containers with incomplete status: [{string.Join(' ', incomplete)}]", time),
        };
        foreach (var type in new[] { "ContainersReady", "Ready" })
        {
            conditions.Add(unready.Count == 0 && !terminal
                ? Condition(pod, type, true, null, null, time)
                : terminal
                    ? Condition(pod, type, false, "PodCompleted", null, time)
                    : Condition(pod, type, false, "ContainersNotReady", $"containers with unready status: [{string.Join(' ', unready)}]", time));
        }

        return new V1PodStatus
        {
            Phase = phase,
            PodIP = podIp,
            PodIPs = podIp is null ? null : [new V1PodIP { Ip = podIp }],
            HostIP = pod.Status?.HostIP,
            StartTime = pod.Status?.StartTime ?? time,
            QosClass = pod.Status?.QosClass ?? "BestEffort",
            InitContainerStatuses = hasInits ? initStatuses : null,
            ContainerStatuses = appStatuses,
            Conditions = conditions,
        };

        V1ContainerStatus StatusOf(V1Container spec, bool isInit)
        {
            var list = attempts.TryGetValue(spec.Name, out var found) ? found : [];
            var latest = list.FirstOrDefault();
            var previous = list.Skip(1).FirstOrDefault(c => c.State == ContainerState.Exited);
            var status = new V1ContainerStatus
            {
                Name = spec.Name,
                Image = spec.Image,
                ImageID = spec.Image,
                ContainerID = latest is null ? null : $"{runtimeName}://{latest.Id}",
                RestartCount = latest?.Attempt ?? 0,
                Ready = false,
                Started = false,
            };
            record.Waiting.TryGetValue(spec.Name, out var waiting);
            switch (latest?.State)
            {
                case null:
                case ContainerState.Created:
                    status.State = Waiting(waiting.Reason ?? (hasInits ? PodInitializing : ContainerCreating), waiting.Message);
                    status.LastState = Terminated(previous, runtimeName);
                    break;
                case ContainerState.Running:
                    status.State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = Seconds(latest.StartedAt) } };
                    status.LastState = Terminated(previous, runtimeName);
                    status.Started = record.Started(latest.Id);
                    status.Ready = (!isInit || PodWorker.IsSidecar(spec)) && status.Started == true && record.Ready(latest.Id);
                    break;
                default:
                    if (waiting.Reason is not null && !final)
                    {
                        // Exited and due to restart: kubelet shows it waiting, the exit as its last state.
                        status.State = Waiting(waiting.Reason, waiting.Message);
                        status.LastState = Terminated(latest, runtimeName);
                    }
                    else
                    {
                        status.State = Terminated(latest, runtimeName);
                        status.LastState = Terminated(previous, runtimeName);
                        status.Ready = isInit && !PodWorker.IsSidecar(spec) && latest.ExitCode == 0;
                    }

                    break;
            }

            return status;
        }
    }

    /// <summary>The phase as kubelet derives it from the containers' states and the restart policy.</summary>
    private static string PhaseOf(string policy, bool initialized, List<V1ContainerStatus> inits, List<V1ContainerStatus> apps, bool final)
    {
        if (final)
        {
            return apps.All(s => s.State.Terminated?.ExitCode == 0) && initialized ? "Succeeded" : "Failed";
        }

        if (!initialized)
        {
            var failed = inits.Any(s => s.State.Terminated is { ExitCode: not 0 });
            return failed && policy == "Never" ? "Failed" : "Pending";
        }

        int running = 0, waiting = 0, stopped = 0, succeeded = 0;
        foreach (var s in apps)
        {
            if (s.State.Running is not null)
            {
                running++;
            }
            else if (s.State.Terminated is { } t)
            {
                stopped++;
                succeeded += t.ExitCode == 0 ? 1 : 0;
            }
            else if (s.LastState?.Terminated is not null)
            {
                // Waiting to restart after an exit.
                stopped++;
            }
            else
            {
                waiting++;
            }
        }

        if (waiting > 0)
        {
            return "Pending";
        }

        if (running > 0)
        {
            return "Running";
        }

        if (stopped == 0 || policy == "Always")
        {
            return stopped == 0 ? "Pending" : "Running";
        }

        if (stopped == succeeded)
        {
            return "Succeeded";
        }

        return policy == "Never" ? "Failed" : "Running";
    }

    private static V1ContainerState Waiting(string reason, string? message) =>
        new() { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = message } };

    private static V1ContainerState? Terminated(ContainerStatus? container, string runtimeName) =>
        container is { State: ContainerState.Exited }
            ? new V1ContainerState
            {
                Terminated = new V1ContainerStateTerminated
                {
                    ExitCode = container.ExitCode ?? 0,
                    Reason = container.Reason ?? (container.ExitCode == 0 ? "Completed" : "Error"),
                    StartedAt = Seconds(container.StartedAt),
                    FinishedAt = Seconds(container.FinishedAt),
                    ContainerID = $"{runtimeName}://{container.Id}",
                },
            }
            : null;

    private static V1PodCondition Condition(V1Pod pod, string type, bool value, string? reason, string? message, DateTime now)
    {
        var status = value ? "True" : "False";
        var since = pod.Status?.Conditions?.FirstOrDefault(c => c.Type == type && c.Status == status)?.LastTransitionTime ?? now;
        return new V1PodCondition { Type = type, Status = status, Reason = reason, Message = message, LastTransitionTime = since, LastProbeTime = null };
    }

    /// <summary>API times have whole seconds: a status built again from the same runtime state compares equal to the stored one.</summary>
    public static DateTime Seconds(DateTimeOffset time) => new(time.UtcTicks - (time.UtcTicks % TimeSpan.TicksPerSecond), DateTimeKind.Utc);

    private static DateTime? Seconds(DateTimeOffset? time) => time is { } t ? Seconds(t) : null;
}
