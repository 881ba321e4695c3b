using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Controllers.Apps;

/// <summary>
/// Keeps a ReplicaSet's number of pods: creates pods from its template (owned by it) when there
/// are too few, deletes the least valuable ones when there are too many (unscheduled before
/// scheduled, pending before running, not ready before ready, newest first), and reports replicas,
/// ready, available and fully labeled counts in its status.
/// </summary>
/// <remarks>It reads pods with a consistent list, not a cache, so a reconcile never acts on pods it has not seen yet.</remarks>
public sealed class ReplicaSetController(IClusterClient client, ILogger<ReplicaSetController> logger) : IController
{
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

        var owned = await OwnedPodsAsync(rs, cancellationToken).ConfigureAwait(false);
        var active = owned.Where(IsActive).ToList();
        var wanted = rs.Spec.Replicas ?? 1;
        if (rs.Metadata.DeletionTimestamp is null)
        {
            if (active.Count < wanted)
            {
                for (var i = active.Count; i < wanted; i++)
                {
                    active.Add(await client.CreateAsync(PodFor(rs), cancellationToken).ConfigureAwait(false));
                }

                logger.LogInformation("ReplicaSet {Key}: created {Count} pods", key, wanted - owned.Count(IsActive));
            }
            else if (active.Count > wanted)
            {
                foreach (var pod in active.OrderBy(DeletionRank).ThenByDescending(p => p.Metadata.CreationTimestamp).Take(active.Count - wanted).ToList())
                {
                    try
                    {
                        await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid }, cancellationToken).ConfigureAwait(false);
                    }
                    catch (NotFoundException)
                    {
                    }

                    active.Remove(pod);
                }
            }
        }

        await UpdateStatusAsync(rs, active, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    private async Task<List<V1Pod>> OwnedPodsAsync(V1ReplicaSet rs, CancellationToken cancellationToken)
    {
        var selector = LabelSelectors.ToString(rs.Spec.Selector);
        var pods = await client.ListAsync<V1Pod>(rs.Metadata.NamespaceProperty, new ListOptions { LabelSelector = selector }, cancellationToken).ConfigureAwait(false);
        return pods.Items.Where(p => (p.Metadata.OwnerReferences ?? []).Any(o => o.Controller == true && o.Uid == rs.Metadata.Uid)).ToList();
    }

    private static bool IsActive(V1Pod pod) =>
        pod.Metadata.DeletionTimestamp is null && pod.Status?.Phase is not ("Succeeded" or "Failed");

    private static bool IsReady(V1Pod pod) =>
        pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;

    /// <summary>Lower goes first: the pods whose loss costs least.</summary>
    private static int DeletionRank(V1Pod pod) =>
        string.IsNullOrEmpty(pod.Spec?.NodeName) ? 0
        : pod.Status?.Phase == "Pending" ? 1
        : !IsReady(pod) ? 2
        : 3;

    private static V1Pod PodFor(V1ReplicaSet rs)
    {
        var template = rs.Spec.Template ?? new V1PodTemplateSpec();
        var pod = ObjectConversion.ToObject<V1Pod>(ObjectConversion.ToNode(new V1Pod { Metadata = template.Metadata ?? new V1ObjectMeta(), Spec = template.Spec }));
        pod.Metadata.Name = null;
        pod.Metadata.GenerateName = $"{rs.Metadata.Name}-";
        pod.Metadata.NamespaceProperty = rs.Metadata.NamespaceProperty;
        pod.Metadata.OwnerReferences = [new V1OwnerReference { ApiVersion = "apps/v1", Kind = "ReplicaSet", Name = rs.Metadata.Name, Uid = rs.Metadata.Uid, Controller = true, BlockOwnerDeletion = true }];
        return pod;
    }

    private async Task UpdateStatusAsync(V1ReplicaSet rs, List<V1Pod> active, CancellationToken cancellationToken)
    {
        var templateLabels = rs.Spec.Template?.Metadata?.Labels ?? new Dictionary<string, string>();
        var status = new V1ReplicaSetStatus
        {
            Replicas = active.Count,
            ReadyReplicas = active.Count(IsReady),
            AvailableReplicas = active.Count(IsReady),
            FullyLabeledReplicas = active.Count(p => templateLabels.All(l => p.Metadata.Labels?.TryGetValue(l.Key, out var v) == true && v == l.Value)),
            ObservedGeneration = rs.Metadata.Generation,
            Conditions = rs.Status?.Conditions,
        };
        if (rs.Status is { } current && current.Replicas == status.Replicas && current.ReadyReplicas == status.ReadyReplicas
            && current.AvailableReplicas == status.AvailableReplicas && current.FullyLabeledReplicas == status.FullyLabeledReplicas
            && current.ObservedGeneration == status.ObservedGeneration)
        {
            return;
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
    }
}
