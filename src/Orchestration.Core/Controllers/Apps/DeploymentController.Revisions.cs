using System.Globalization;
using System.Text.Json.Nodes;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Controllers.Apps;

// Revisions: the ReplicaSets a Deployment owns, the one of its current template (made when missing, its revision numbered), and the old ones it keeps.
public sealed partial class DeploymentController
{
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

    private static int Revision(V1ReplicaSet rs) =>
        rs.Metadata.Annotations?.TryGetValue(RevisionAnnotation, out var text) == true && int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var revision) ? revision : 0;

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
            LogReplicaSetCreated(d.Metadata.NamespaceProperty, d.Metadata.Name, created.Metadata.Name);
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
}
