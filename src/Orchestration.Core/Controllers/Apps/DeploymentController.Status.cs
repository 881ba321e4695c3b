using k8s.Models;

namespace Orchestration.Controllers.Apps;

// The Deployment's status and its Available and Progressing conditions.
public sealed partial class DeploymentController
{
    private async Task<ReconcileResult> StatusAsync(V1Deployment d, V1ReplicaSet? newRs, List<V1ReplicaSet> olds, string? progress, CancellationToken cancellationToken, bool collided = false)
    {
        var all = olds.Concat(newRs is null ? [] : [newRs]).ToList();
        var replicas = d.Spec.Replicas ?? 1;
        var (_, unavailable) = Limits(d);
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var available = all.Sum(rs => rs.Status?.AvailableReplicas ?? 0);
        var status = new V1DeploymentStatus
        {
            ObservedGeneration = d.Metadata.Generation,
            Replicas = all.Sum(rs => rs.Status?.Replicas ?? 0),
            UpdatedReplicas = newRs?.Status?.Replicas ?? 0,
            ReadyReplicas = all.Sum(rs => rs.Status?.ReadyReplicas ?? 0),
            AvailableReplicas = available,
            UnavailableReplicas = Math.Max(0, all.Sum(Replicas) - available),
            CollisionCount = collided ? (d.Status?.CollisionCount ?? 0) + 1 : d.Status?.CollisionCount,
        };
        var conditions = (d.Status?.Conditions ?? []).ToList();
        SetCondition(conditions, available >= replicas - unavailable
            ? new V1DeploymentCondition { Type = "Available", Status = "True", Reason = "MinimumReplicasAvailable", Message = "Deployment has minimum availability." }
            : new V1DeploymentCondition { Type = "Available", Status = "False", Reason = "MinimumReplicasUnavailable", Message = "Deployment does not have minimum availability." }, now);

        var complete = newRs is not null && status.UpdatedReplicas == replicas && status.Replicas == replicas && status.AvailableReplicas == replicas;
        var previous = conditions.FirstOrDefault(c => c.Type == "Progressing");
        var deadline = d.Spec.ProgressDeadlineSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        TimeSpan? recheck = null;
        if (d.Spec.Paused == true)
        {
            SetCondition(conditions, new V1DeploymentCondition { Type = "Progressing", Status = "Unknown", Reason = "DeploymentPaused", Message = "Deployment is paused" }, now);
        }
        else if (previous?.Reason == "DeploymentPaused")
        {
            SetCondition(conditions, new V1DeploymentCondition { Type = "Progressing", Status = "Unknown", Reason = "DeploymentResumed", Message = "Deployment is resumed" }, now);
            recheck = TimeSpan.Zero;
        }
        else if (newRs is not null && complete)
        {
            SetCondition(conditions, new V1DeploymentCondition { Type = "Progressing", Status = "True", Reason = "NewReplicaSetAvailable", Message = $"ReplicaSet \"{newRs.Metadata.Name}\" has successfully progressed." }, now);
        }
        else if (collided)
        {
            SetCondition(conditions, new V1DeploymentCondition { Type = "Progressing", Status = "True", Reason = "ReplicaSetUpdated", Message = "a ReplicaSet name collided; trying the next hash" }, now);
            recheck = TimeSpan.Zero;
        }
        else if (newRs is not null)
        {
            var moved = progress is not null || d.Status is null || d.Status.UpdatedReplicas != status.UpdatedReplicas || d.Status.Replicas != status.Replicas
                || d.Status.AvailableReplicas != status.AvailableReplicas || d.Status.ReadyReplicas != status.ReadyReplicas || d.Status.ObservedGeneration != status.ObservedGeneration;
            if (progress == "NewReplicaSetCreated")
            {
                SetCondition(conditions, new V1DeploymentCondition { Type = "Progressing", Status = "True", Reason = "NewReplicaSetCreated", Message = $"Created new replica set \"{newRs.Metadata.Name}\"" }, now);
            }
            else if (moved || previous is null)
            {
                SetCondition(conditions, new V1DeploymentCondition { Type = "Progressing", Status = "True", Reason = "ReplicaSetUpdated", Message = $"ReplicaSet \"{newRs.Metadata.Name}\" is progressing." }, now);
            }
            else if (deadline is { } limit && previous.Reason != "ProgressDeadlineExceeded" && previous.LastUpdateTime is { } since && now - since.ToUniversalTime() >= limit)
            {
                SetCondition(conditions, new V1DeploymentCondition { Type = "Progressing", Status = "False", Reason = "ProgressDeadlineExceeded", Message = $"ReplicaSet \"{newRs.Metadata.Name}\" has timed out progressing." }, now);
                await events.RecordAsync(d, "Warning", "ProgressDeadlineExceeded", $"ReplicaSet \"{newRs.Metadata.Name}\" has timed out progressing.", Component, cancellationToken).ConfigureAwait(false);
            }

            var current = conditions.First(c => c.Type == "Progressing");
            if (deadline is { } wait && current.Reason != "ProgressDeadlineExceeded" && current.LastUpdateTime is { } updated)
            {
                recheck = Max(TimeSpan.Zero, updated.ToUniversalTime() + wait - now) + TimeSpan.FromSeconds(1);
            }
        }

        status.Conditions = conditions;
        await SyncDeploymentRevisionAsync(d, newRs, cancellationToken).ConfigureAwait(false);
        if (!SameStatus(d.Status, status))
        {
            d.Status = status;
            await WorkloadPods.WriteStatusAsync(client, d, cancellationToken).ConfigureAwait(false);
        }

        return recheck is { } delay ? ReconcileResult.After(delay) : ReconcileResult.Done;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Sets a condition, keeping its transition time when the status did not change.</summary>
    private static void SetCondition(List<V1DeploymentCondition> conditions, V1DeploymentCondition condition, DateTime now)
    {
        var existing = conditions.FindIndex(c => c.Type == condition.Type);
        if (existing >= 0)
        {
            var old = conditions[existing];
            if (old.Status == condition.Status && old.Reason == condition.Reason && old.Message == condition.Message)
            {
                return;
            }

            condition.LastTransitionTime = old.Status == condition.Status ? old.LastTransitionTime : now;
            condition.LastUpdateTime = now;
            conditions[existing] = condition;
            return;
        }

        condition.LastTransitionTime = now;
        condition.LastUpdateTime = now;
        conditions.Add(condition);
    }

    private static bool SameStatus(V1DeploymentStatus? a, V1DeploymentStatus b) =>
        a is not null && a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas && a.UpdatedReplicas == b.UpdatedReplicas
        && a.ReadyReplicas == b.ReadyReplicas && a.AvailableReplicas == b.AvailableReplicas && a.UnavailableReplicas == b.UnavailableReplicas
        && a.CollisionCount == b.CollisionCount
        && (a.Conditions?.Count ?? 0) == b.Conditions.Count
        && a.Conditions!.Zip(b.Conditions).All(p => p.First.Type == p.Second.Type && p.First.Status == p.Second.Status && p.First.Reason == p.Second.Reason && p.First.Message == p.Second.Message && p.First.LastUpdateTime == p.Second.LastUpdateTime);
}
