using System.Globalization;
using System.Text.Json.Nodes;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Controllers.Apps;

// Scaling and rolling out: proportional scaling, RollingUpdate within maxSurge and maxUnavailable, Recreate.
public sealed partial class DeploymentController
{
    private static int Replicas(V1ReplicaSet rs) => rs.Spec?.Replicas ?? 0;

    private static (int Surge, int Unavailable) Limits(V1Deployment d)
    {
        var replicas = d.Spec.Replicas ?? 1;
        if (d.Spec.Strategy?.Type == "Recreate")
        {
            return (0, replicas);
        }

        var rolling = d.Spec.Strategy?.RollingUpdate;
        var surge = WorkloadPods.ScaledValue(rolling?.MaxSurge, replicas, roundUp: true, whenUnset: 0);
        var unavailable = WorkloadPods.ScaledValue(rolling?.MaxUnavailable, replicas, roundUp: false, whenUnset: 0);

        // Both zero would never make progress: one pod may then be unavailable.
        if (surge == 0 && unavailable == 0)
        {
            unavailable = 1;
        }

        return (surge, Math.Min(unavailable, replicas));
    }

    /// <summary>Whether the Deployment's replicas changed since its active ReplicaSets were last sized for it.</summary>
    private static bool IsScalingEvent(V1Deployment d, List<V1ReplicaSet> sets)
    {
        var wanted = (d.Spec.Replicas ?? 1).ToString(CultureInfo.InvariantCulture);
        return sets.Where(rs => Replicas(rs) > 0).Any(rs => rs.Metadata.Annotations?.TryGetValue(DesiredReplicasAnnotation, out var desired) != true || desired != wanted);
    }

    private async Task ScaleReplicaSetAsync(V1Deployment d, V1ReplicaSet rs, int replicas, CancellationToken cancellationToken)
    {
        var (surge, _) = Limits(d);
        var desired = (d.Spec.Replicas ?? 1).ToString(CultureInfo.InvariantCulture);
        var max = ((d.Spec.Replicas ?? 1) + surge).ToString(CultureInfo.InvariantCulture);
        var from = Replicas(rs);
        var annotations = rs.Metadata.Annotations ?? new Dictionary<string, string>();
        if (from == replicas && annotations.TryGetValue(DesiredReplicasAnnotation, out var a) && a == desired && annotations.TryGetValue(MaxReplicasAnnotation, out var m) && m == max)
        {
            return;
        }

        // A merge patch, not an update: the ReplicaSet's status changes all the time, and a
        // resourceVersion precondition would lose to it.
        var patch = new JsonObject
        {
            ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [DesiredReplicasAnnotation] = desired, [MaxReplicasAnnotation] = max } },
            ["spec"] = new JsonObject { ["replicas"] = replicas },
        };
        var updated = await client.PatchAsync<V1ReplicaSet>(rs.Metadata.NamespaceProperty, rs.Metadata.Name, new ObjectPatch(PatchKind.Merge, patch.ToJsonString()), cancellationToken).ConfigureAwait(false);
        rs.Metadata = updated.Metadata;
        rs.Spec.Replicas = replicas;
        if (from != replicas)
        {
            var direction = replicas > from ? "up" : "down";
            await events.RecordAsync(d, "Normal", "ScalingReplicaSet", $"Scaled {direction} replica set {rs.Metadata.Name} from {from} to {replicas}", Component, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A change of replicas alone: one active ReplicaSet takes it all; several (mid-rollout) share
    /// it in proportion to their sizes, the remainder going to the newest.
    /// </summary>
    private async Task ScaleAsync(V1Deployment d, V1ReplicaSet? newRs, List<V1ReplicaSet> olds, CancellationToken cancellationToken)
    {
        var replicas = d.Spec.Replicas ?? 1;
        var all = olds.Concat(newRs is null ? [] : [newRs]).ToList();
        var active = all.Where(rs => Replicas(rs) > 0).ToList();
        if (active.Count <= 1)
        {
            var target = active.SingleOrDefault() ?? newRs ?? olds.OrderByDescending(Revision).FirstOrDefault();
            if (target is not null)
            {
                await ScaleReplicaSetAsync(d, target, replicas, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        var (surge, _) = Limits(d);
        var allowed = replicas + surge;
        var current = active.Sum(Replicas);
        var toAdd = allowed - current;
        if (toAdd == 0)
        {
            foreach (var rs in active)
            {
                await ScaleReplicaSetAsync(d, rs, Replicas(rs), cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        // Scaling up favours the largest sets; scaling down takes from the smallest first.
        var ordered = toAdd > 0 ? active.OrderByDescending(Replicas).ThenByDescending(Revision).ToList() : active.OrderBy(Replicas).ThenBy(Revision).ToList();
        var sizes = ordered.ToDictionary(rs => rs, Replicas);
        var added = 0;
        foreach (var rs in ordered)
        {
            var share = (int)Math.Round(toAdd * (double)Replicas(rs) / current, MidpointRounding.AwayFromZero);
            share = toAdd > 0 ? Math.Min(share, toAdd - added) : Math.Max(share, toAdd - added);
            sizes[rs] = Math.Max(0, sizes[rs] + share);
            added += share;
        }

        var newest = newRs is not null && sizes.ContainsKey(newRs) ? newRs : ordered[0];
        sizes[newest] = Math.Max(0, sizes[newest] + (toAdd - added));
        foreach (var (rs, size) in sizes)
        {
            await ScaleReplicaSetAsync(d, rs, size, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One step of a rolling update: scale the new ReplicaSet up within the surge, the old ones down within the unavailability budget.</summary>
    private async Task RollAsync(V1Deployment d, V1ReplicaSet newRs, List<V1ReplicaSet> olds, CancellationToken cancellationToken)
    {
        var replicas = d.Spec.Replicas ?? 1;
        var (surge, unavailable) = Limits(d);
        var all = olds.Append(newRs).ToList();

        // Up: never more than replicas + maxSurge pods asked for in all.
        var total = all.Sum(Replicas);
        var newReplicas = Replicas(newRs);
        if (newReplicas > replicas)
        {
            await ScaleReplicaSetAsync(d, newRs, replicas, cancellationToken).ConfigureAwait(false);
        }
        else if (total < replicas + surge && newReplicas < replicas)
        {
            await ScaleReplicaSetAsync(d, newRs, Math.Min(newReplicas + (replicas + surge - total), replicas), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ScaleReplicaSetAsync(d, newRs, newReplicas, cancellationToken).ConfigureAwait(false);
        }

        // Down: keep replicas - maxUnavailable available, counting the new set's unavailable pods against the budget.
        var minAvailable = replicas - unavailable;
        var newUnavailable = Math.Max(0, Replicas(newRs) - (newRs.Status?.AvailableReplicas ?? 0));
        var budget = all.Sum(Replicas) - minAvailable - newUnavailable;
        if (budget <= 0)
        {
            return;
        }

        // First the old pods that are not available anyway: removing them costs nothing.
        var oldest = olds.Where(rs => Replicas(rs) > 0).OrderBy(Revision).ThenBy(rs => rs.Metadata.CreationTimestamp).ToList();
        var cleaned = 0;
        foreach (var rs in oldest)
        {
            var unhealthy = Math.Max(0, Replicas(rs) - (rs.Status?.AvailableReplicas ?? 0));
            var take = Math.Min(unhealthy, budget - cleaned);
            if (take > 0)
            {
                await ScaleReplicaSetAsync(d, rs, Replicas(rs) - take, cancellationToken).ConfigureAwait(false);
                cleaned += take;
            }
        }

        // Then available ones, while the available total stays at or above the minimum.
        var available = all.Sum(rs => rs.Status?.AvailableReplicas ?? 0);
        var scaleDown = Math.Min(available - minAvailable, budget - cleaned);
        foreach (var rs in oldest)
        {
            if (scaleDown <= 0)
            {
                break;
            }

            var take = Math.Min(Replicas(rs), scaleDown);
            if (take > 0)
            {
                await ScaleReplicaSetAsync(d, rs, Replicas(rs) - take, cancellationToken).ConfigureAwait(false);
                scaleDown -= take;
            }
        }
    }

    /// <summary>Scales every old ReplicaSet to zero; true while old pods are still there (the new set must wait).</summary>
    private async Task<bool> RecreateScaleDownAsync(V1Deployment d, List<V1ReplicaSet> olds, CancellationToken cancellationToken)
    {
        foreach (var rs in olds.Where(rs => Replicas(rs) > 0))
        {
            await ScaleReplicaSetAsync(d, rs, 0, cancellationToken).ConfigureAwait(false);
        }

        if (olds.Count == 0)
        {
            return false;
        }

        // Terminating pods count as still there: Recreate promises no overlap.
        var pods = await client.ListAsync<V1Pod>(d.Metadata.NamespaceProperty, new ListOptions { LabelSelector = LabelSelectors.ToString(d.Spec.Selector) }, cancellationToken).ConfigureAwait(false);
        var oldUids = olds.Select(rs => rs.Metadata.Uid).ToHashSet(StringComparer.Ordinal);
        return pods.Items.Any(p => (p.Metadata.OwnerReferences ?? []).Any(o => o.Controller == true && oldUids.Contains(o.Uid)) && p.Status?.Phase is not ("Succeeded" or "Failed"));
    }
}
