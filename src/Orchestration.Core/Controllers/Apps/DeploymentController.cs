using System.Globalization;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Resources;

namespace Orchestration.Controllers.Apps;

/// <summary>
/// Rolls Deployments out through ReplicaSets, one per pod template (named and labelled with the
/// template's hash, numbered by a revision annotation): a rolling update that keeps at most
/// <c>replicas + maxSurge</c> pods and at least <c>replicas - maxUnavailable</c> available, or
/// Recreate (all old pods gone before a new one starts); proportional scaling mid-rollout;
/// pause and resume; rollback (a template that matches an old ReplicaSet brings that one back
/// under a new revision); old ReplicaSets beyond <c>revisionHistoryLimit</c> deleted; and the
/// status counts and Available/Progressing conditions that <c>kubectl rollout status</c> reads.
/// </summary>
public sealed class DeploymentController(IClusterClient client, EventRecorder events, TimeProvider timeProvider, ILogger<DeploymentController> logger) : IController
{
    /// <summary>The revision annotation, on the Deployment and on each of its ReplicaSets.</summary>
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";

    /// <summary>The Deployment's replicas when the ReplicaSet was last scaled for it.</summary>
    public const string DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";

    /// <summary>The Deployment's replicas plus surge when the ReplicaSet was last scaled for it.</summary>
    public const string MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";

    /// <summary>The label that ties a ReplicaSet and its pods to one pod template.</summary>
    public const string PodTemplateHashLabel = "pod-template-hash";

    /// <summary>The component name on its events.</summary>
    public const string Component = "deployment-controller";

    // Annotations of the Deployment that are not copied to its ReplicaSets (kubectl's own, and ours).
    private static readonly HashSet<string> NotCopied = new(StringComparer.Ordinal)
    {
        "kubectl.kubernetes.io/last-applied-configuration", RevisionAnnotation, "deployment.kubernetes.io/revision-history",
        DesiredReplicasAnnotation, MaxReplicasAnnotation, "deprecated.deployment.rollback.to",
    };

    /// <summary>Registers the controller: Deployments, their ReplicaSets, and (for Recreate) pods going away.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Deployment>().Owns<V1ReplicaSet, V1Deployment>().Watches<V1Pod>(RecreateOwner);
    }

    // Recreate waits for the old pods to be gone, which their ReplicaSet's status may not show:
    // a pod's change looks up its ReplicaSet's Deployment in the caches.
    private static IEnumerable<ObjectKey> RecreateOwner(Informers.InformerFactory informers, V1Pod pod)
    {
        var owner = pod.Metadata.OwnerReferences?.FirstOrDefault(o => o.Controller == true && o.Kind == "ReplicaSet");
        if (owner is null)
        {
            yield break;
        }

        var rs = informers.For<V1ReplicaSet>().Cache.Get(pod.Metadata.NamespaceProperty, owner.Name);
        var deployment = rs?.Metadata.OwnerReferences?.FirstOrDefault(o => o.Controller == true && o.Kind == "Deployment");
        if (deployment is not null && informers.For<V1Deployment>().Cache.Get(pod.Metadata.NamespaceProperty, deployment.Name)?.Spec?.Strategy?.Type == "Recreate")
        {
            yield return new ObjectKey(pod.Metadata.NamespaceProperty, deployment.Name);
        }
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (await WorkloadPods.GetLiveAsync<V1Deployment>(client, key, cancellationToken).ConfigureAwait(false) is not { } d || d.Spec?.Selector is null)
        {
            return ReconcileResult.Done;
        }

        var sets = await ReplicaSetsAsync(d, cancellationToken).ConfigureAwait(false);
        var newRs = sets.Where(rs => SameTemplate(rs.Spec.Template, d.Spec.Template)).OrderBy(rs => rs.Metadata.CreationTimestamp).FirstOrDefault();
        var olds = sets.Where(rs => !ReferenceEquals(rs, newRs)).ToList();
        string? progress = null;
        if (d.Spec.Paused == true)
        {
            // Paused: scaling only, no new revision.
            await ScaleAsync(d, newRs, olds, cancellationToken).ConfigureAwait(false);
        }
        else if (newRs is not null && IsScalingEvent(d, sets))
        {
            newRs = await SyncRevisionAsync(d, newRs, olds, cancellationToken).ConfigureAwait(false);
            await ScaleAsync(d, newRs, olds, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // Recreate: every old pod is gone before the new set gets any (or is even made). The old
            // sets are scaled down and their pods looked for once per reconcile.
            var recreate = d.Spec.Strategy?.Type == "Recreate";
            var oldPodsLeft = recreate && await RecreateScaleDownAsync(d, olds, cancellationToken).ConfigureAwait(false);
            if (newRs is null)
            {
                if (oldPodsLeft)
                {
                    return await StatusAsync(d, null, olds, null, cancellationToken).ConfigureAwait(false);
                }

                (newRs, var collided) = await CreateNewReplicaSetAsync(d, olds, cancellationToken).ConfigureAwait(false);
                if (newRs is null)
                {
                    return await StatusAsync(d, null, olds, null, cancellationToken, collided).ConfigureAwait(false);
                }

                progress = "NewReplicaSetCreated";
            }
            else
            {
                newRs = await SyncRevisionAsync(d, newRs, olds, cancellationToken).ConfigureAwait(false);
            }

            if (!recreate)
            {
                await RollAsync(d, newRs, olds, cancellationToken).ConfigureAwait(false);
            }
            else if (!oldPodsLeft)
            {
                await ScaleReplicaSetAsync(d, newRs, d.Spec.Replicas ?? 1, cancellationToken).ConfigureAwait(false);
            }

            await CleanUpAsync(d, olds, cancellationToken).ConfigureAwait(false);
        }

        return await StatusAsync(d, newRs, olds, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The ReplicaSets the Deployment controls, after adopting orphans its selector matches.</summary>
    private async Task<List<V1ReplicaSet>> ReplicaSetsAsync(V1Deployment d, CancellationToken cancellationToken)
    {
        var list = await client.ListAsync<V1ReplicaSet>(d.Metadata.NamespaceProperty, new ListOptions { LabelSelector = LabelSelectors.ToString(d.Spec.Selector) }, cancellationToken).ConfigureAwait(false);
        var owned = new List<V1ReplicaSet>();
        foreach (var rs in list.Items)
        {
            if (WorkloadPods.IsControlledBy(rs, d.Metadata.Uid))
            {
                owned.Add(rs);
            }
            else if (rs.Metadata.DeletionTimestamp is null && !(rs.Metadata.OwnerReferences ?? []).Any(o => o.Controller == true))
            {
                rs.Metadata.OwnerReferences = [.. rs.Metadata.OwnerReferences ?? [], WorkloadPods.ControllerReference(d)];
                try
                {
                    owned.Add(await client.UpdateAsync(rs, cancellationToken).ConfigureAwait(false));
                }
                catch (ConflictException)
                {
                    // Changed meanwhile: the change brings this Deployment back.
                }
            }
        }

        return owned;
    }

    private static bool SameTemplate(V1PodTemplateSpec? ofReplicaSet, V1PodTemplateSpec? ofDeployment) =>
        WorkloadPods.SameTemplate(ofReplicaSet, ofDeployment, PodTemplateHashLabel);

    private static int Replicas(V1ReplicaSet rs) => rs.Spec?.Replicas ?? 0;

    private static int Revision(V1ReplicaSet rs) =>
        rs.Metadata.Annotations?.TryGetValue(RevisionAnnotation, out var text) == true && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var revision) ? revision : 0;

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

    /// <summary>Gives the new ReplicaSet the next revision when it was an old one (a rollback), and the Deployment's annotations.</summary>
    private async Task<V1ReplicaSet> SyncRevisionAsync(V1Deployment d, V1ReplicaSet newRs, List<V1ReplicaSet> olds, CancellationToken cancellationToken)
    {
        var maxOld = olds.Count == 0 ? 0 : olds.Max(Revision);
        var revision = Revision(newRs) > maxOld ? Revision(newRs) : maxOld + 1;
        var annotations = new Dictionary<string, string>(newRs.Metadata.Annotations ?? new Dictionary<string, string>());
        var changed = false;
        foreach (var (name, value) in CopiedAnnotations(d).Append(new(RevisionAnnotation, revision.ToString(CultureInfo.InvariantCulture))))
        {
            if (!annotations.TryGetValue(name, out var current) || current != value)
            {
                annotations[name] = value;
                changed = true;
            }
        }

        if (!changed)
        {
            return newRs;
        }

        var patch = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject(annotations.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)JsonValue.Create(a.Value)))) } };
        return await client.PatchAsync<V1ReplicaSet>(newRs.Metadata.NamespaceProperty, newRs.Metadata.Name, new ObjectPatch(PatchKind.Merge, patch.ToJsonString()), cancellationToken).ConfigureAwait(false);
    }

    private static IEnumerable<KeyValuePair<string, string>> CopiedAnnotations(V1Deployment d) =>
        (d.Metadata.Annotations ?? new Dictionary<string, string>()).Where(a => !NotCopied.Contains(a.Key));

    private async Task<(V1ReplicaSet? Created, bool Collided)> CreateNewReplicaSetAsync(V1Deployment d, List<V1ReplicaSet> olds, CancellationToken cancellationToken)
    {
        var hash = WorkloadPods.TemplateHash(d.Spec.Template, d.Status?.CollisionCount);
        var replicas = d.Spec.Replicas ?? 1;
        var (surge, _) = Limits(d);
        var initial = d.Spec.Strategy?.Type == "Recreate"
            ? replicas
            : Math.Clamp(replicas + surge - olds.Sum(Replicas), 0, replicas);
        var template = ObjectConversion.DeepCopy(d.Spec.Template ?? new V1PodTemplateSpec());
        template.Metadata ??= new V1ObjectMeta();
        template.Metadata.Labels = new Dictionary<string, string>(template.Metadata.Labels ?? new Dictionary<string, string>()) { [PodTemplateHashLabel] = hash };
        var selector = ObjectConversion.DeepCopy(d.Spec.Selector);
        selector.MatchLabels = new Dictionary<string, string>(selector.MatchLabels ?? new Dictionary<string, string>()) { [PodTemplateHashLabel] = hash };
        var annotations = CopiedAnnotations(d).ToDictionary(a => a.Key, a => a.Value);
        annotations[RevisionAnnotation] = ((olds.Count == 0 ? 0 : olds.Max(Revision)) + 1).ToString(CultureInfo.InvariantCulture);
        annotations[DesiredReplicasAnnotation] = replicas.ToString(CultureInfo.InvariantCulture);
        annotations[MaxReplicasAnnotation] = (replicas + surge).ToString(CultureInfo.InvariantCulture);
        var rs = new V1ReplicaSet
        {
            ApiVersion = "apps/v1",
            Kind = "ReplicaSet",
            Metadata = new V1ObjectMeta
            {
                Name = $"{d.Metadata.Name}-{hash}",
                NamespaceProperty = d.Metadata.NamespaceProperty,
                Labels = template.Metadata.Labels,
                Annotations = annotations,
                OwnerReferences = [WorkloadPods.ControllerReference(d)],
            },
            Spec = new V1ReplicaSetSpec { Replicas = initial, Selector = selector, Template = template, MinReadySeconds = d.Spec.MinReadySeconds },
        };
        try
        {
            var created = await client.CreateAsync(rs, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Deployment {Namespace}/{Name}: created ReplicaSet {ReplicaSet}", d.Metadata.NamespaceProperty, d.Metadata.Name, created.Metadata.Name);
            if (initial > 0)
            {
                await events.RecordAsync(d, "Normal", "ScalingReplicaSet", $"Scaled up replica set {created.Metadata.Name} from 0 to {initial}", Component, cancellationToken).ConfigureAwait(false);
            }

            return (created, false);
        }
        catch (AlreadyExistsException)
        {
            // Another template with the same hash (or ours, made by a reconcile whose list missed
            // it): a collision moves the hash along; ours is found by the next reconcile.
            var existing = await client.GetAsync<V1ReplicaSet>(d.Metadata.NamespaceProperty, rs.Metadata.Name, cancellationToken).ConfigureAwait(false);
            if (WorkloadPods.IsControlledBy(existing, d.Metadata.Uid) && SameTemplate(existing.Spec.Template, d.Spec.Template))
            {
                return (existing, false);
            }

            return (null, true);
        }
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

    /// <summary>Deletes the oldest empty ReplicaSets beyond <c>revisionHistoryLimit</c>.</summary>
    private async Task CleanUpAsync(V1Deployment d, List<V1ReplicaSet> olds, CancellationToken cancellationToken)
    {
        var limit = d.Spec.RevisionHistoryLimit ?? 10;
        var empty = olds.Where(rs => Replicas(rs) == 0 && (rs.Status?.Replicas ?? 0) == 0 && rs.Metadata.DeletionTimestamp is null).OrderBy(Revision).ToList();
        foreach (var rs in empty.Take(Math.Max(0, empty.Count - limit)))
        {
            try
            {
                await client.DeleteAsync<V1ReplicaSet>(rs.Metadata.NamespaceProperty, rs.Metadata.Name, new DeleteOptions { PreconditionUid = rs.Metadata.Uid }, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
            }
        }
    }

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

    /// <summary>Puts the Deployment's revision annotation in step with its new ReplicaSet's.</summary>
    private async Task SyncDeploymentRevisionAsync(V1Deployment d, V1ReplicaSet? newRs, CancellationToken cancellationToken)
    {
        if (newRs?.Metadata.Annotations?.TryGetValue(RevisionAnnotation, out var revision) != true
            || (d.Metadata.Annotations?.TryGetValue(RevisionAnnotation, out var current) == true && current == revision))
        {
            return;
        }

        var patch = new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [RevisionAnnotation] = revision } } };
        var patched = await client.PatchAsync<V1Deployment>(d.Metadata.NamespaceProperty, d.Metadata.Name, new ObjectPatch(PatchKind.Merge, patch.ToJsonString()), cancellationToken).ConfigureAwait(false);
        d.Metadata = patched.Metadata;
    }

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
