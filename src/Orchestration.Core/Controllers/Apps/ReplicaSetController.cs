using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;

namespace Orchestration.Controllers.Apps;

/// <summary>
/// Keeps a ReplicaSet's number of pods: creates pods from its template (owned by it) when there
/// are too few, deletes the least valuable ones when there are too many (unscheduled before
/// scheduled, pending before running, not ready before ready, newest first), and reports replicas,
/// ready, available (ready for minReadySeconds) and fully labeled counts in its status.
/// </summary>
/// <remarks>It reads pods with a consistent list, not a cache, so a reconcile never acts on pods it has not seen yet.</remarks>
public sealed class ReplicaSetController(IClusterClient client, EventRecorder events, TimeProvider timeProvider, ILogger<ReplicaSetController> logger) : IController
{
    /// <summary>The component name on its events.</summary>
    public const string Component = "replicaset-controller";

    // Creations go in batches that double (1, 2, 4, ...) as kube-controller-manager's slow start
    // does: a template that cannot be created fails once, not a thousand times.
    private const int MaxBatch = 256;

    /// <summary>Registers the controller: ReplicaSets and the pods they own.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1ReplicaSet>().Owns<V1Pod, V1ReplicaSet>();
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        V1ReplicaSet rs;
        try
        {
            rs = await client.GetAsync<V1ReplicaSet>(key.Namespace, key.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }

        var owned = await WorkloadPods.ListOwnedAsync<V1Pod>(client, rs.Metadata.NamespaceProperty, rs.Spec.Selector, rs.Metadata.Uid, cancellationToken).ConfigureAwait(false);
        var active = owned.Where(WorkloadPods.IsActive).ToList();
        var wanted = rs.Spec.Replicas ?? 1;
        if (rs.Metadata.DeletionTimestamp is null)
        {
            if (active.Count < wanted)
            {
                await CreatePodsAsync(rs, wanted - active.Count, active, cancellationToken).ConfigureAwait(false);
            }
            else if (active.Count > wanted)
            {
                foreach (var pod in active.OrderBy(DeletionRank).ThenByDescending(p => p.Metadata.CreationTimestamp).Take(active.Count - wanted).ToList())
                {
                    try
                    {
                        await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid }, cancellationToken).ConfigureAwait(false);
                        await events.RecordAsync(rs, "Normal", "SuccessfulDelete", $"Deleted pod: {pod.Metadata.Name}", Component, cancellationToken).ConfigureAwait(false);
                    }
                    catch (NotFoundException)
                    {
                    }

                    active.Remove(pod);
                }
            }
        }

        return await UpdateStatusAsync(rs, active, cancellationToken).ConfigureAwait(false);
    }

    private async Task CreatePodsAsync(V1ReplicaSet rs, int missing, List<V1Pod> active, CancellationToken cancellationToken)
    {
        var owner = WorkloadPods.ControllerReference(rs);
        var created = 0;
        for (var batch = 1; created < missing; batch = Math.Min(batch * 2, MaxBatch))
        {
            var size = Math.Min(batch, missing - created);
            var pods = await Task.WhenAll(Enumerable.Range(0, size).Select(_ => client.CreateAsync(
                WorkloadPods.FromTemplate(rs.Spec.Template, rs.Metadata.NamespaceProperty, owner, generateName: $"{rs.Metadata.Name}-"), cancellationToken))).ConfigureAwait(false);
            active.AddRange(pods);
            created += size;
            foreach (var pod in pods)
            {
                await events.RecordAsync(rs, "Normal", "SuccessfulCreate", $"Created pod: {pod.Metadata.Name}", Component, cancellationToken).ConfigureAwait(false);
            }
        }

        logger.LogInformation("ReplicaSet {Namespace}/{Name}: created {Count} pods", rs.Metadata.NamespaceProperty, rs.Metadata.Name, created);
    }

    /// <summary>Lower goes first: the pods whose loss costs least.</summary>
    private static int DeletionRank(V1Pod pod) =>
        string.IsNullOrEmpty(pod.Spec?.NodeName) ? 0
        : pod.Status?.Phase == "Pending" ? 1
        : !WorkloadPods.IsReady(pod) ? 2
        : 3;

    private async Task<ReconcileResult> UpdateStatusAsync(V1ReplicaSet rs, List<V1Pod> active, CancellationToken cancellationToken)
    {
        var templateLabels = rs.Spec.Template?.Metadata?.Labels ?? new Dictionary<string, string>();
        var now = timeProvider.GetUtcNow();
        TimeSpan? recheck = null;
        var available = 0;
        foreach (var pod in active)
        {
            if (WorkloadPods.IsAvailable(pod, rs.Spec.MinReadySeconds ?? 0, now, out var left))
            {
                available++;
            }
            else if (left is { } wait && (recheck is null || wait < recheck))
            {
                recheck = wait;
            }
        }

        var result = recheck is { } delay ? ReconcileResult.After(delay) : ReconcileResult.Done;
        var status = new V1ReplicaSetStatus
        {
            Replicas = active.Count,
            ReadyReplicas = active.Count(WorkloadPods.IsReady),
            AvailableReplicas = available,
            FullyLabeledReplicas = active.Count(p => templateLabels.All(l => p.Metadata.Labels?.TryGetValue(l.Key, out var v) == true && v == l.Value)),
            ObservedGeneration = rs.Metadata.Generation,
            Conditions = rs.Status?.Conditions,
        };
        if (rs.Status is { } current && current.Replicas == status.Replicas && current.ReadyReplicas == status.ReadyReplicas
            && current.AvailableReplicas == status.AvailableReplicas && current.FullyLabeledReplicas == status.FullyLabeledReplicas
            && current.ObservedGeneration == status.ObservedGeneration)
        {
            return result;
        }

        rs.Status = status;
        try
        {
            await client.UpdateStatusAsync(rs, cancellationToken).ConfigureAwait(false);
        }
        catch (ConflictException)
        {
            // Changed meanwhile: that change queues another reconcile.
        }

        return result;
    }
}
