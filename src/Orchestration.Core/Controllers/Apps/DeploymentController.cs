using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;

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
public sealed partial class DeploymentController(IClusterClient client, EventRecorder events, TimeProvider timeProvider, ILogger<DeploymentController> logger) : IController
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

    [LoggerMessage(EventId = 1450, Level = LogLevel.Information, Message = "Deployment {Namespace}/{Name}: created ReplicaSet {ReplicaSet}")]
    private partial void LogReplicaSetCreated(string? @namespace, string name, string replicaSet);
}
