using System.Globalization;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;

namespace Orchestration.Controllers.Apps;

/// <summary>
/// Runs StatefulSets: pods with stable names (<c>web-0</c>, <c>web-1</c>, ...), hostnames and
/// subdomain. With OrderedReady (the default) pod N is created only once pods 0..N-1 are Running
/// and Ready, and scaling down removes the highest ordinal first, one at a time; with Parallel all
/// go at once. A template change is rolled out from the highest ordinal down to the partition, one
/// pod at a time; a failed pod is replaced under the same name.
/// </summary>
public sealed partial class StatefulSetController(IClusterClient client, EventRecorder events, ILogger<StatefulSetController> logger) : IController
{
    /// <summary>The label naming the pod's own name, for per-pod Services.</summary>
    public const string PodNameLabel = "statefulset.kubernetes.io/pod-name";

    /// <summary>The label with the pod's ordinal.</summary>
    public const string PodIndexLabel = "apps.kubernetes.io/pod-index";

    /// <summary>The component name on its events.</summary>
    public const string Component = "statefulset-controller";

    /// <summary>Registers the controller: StatefulSets and the pods they own.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1StatefulSet>().Owns<V1Pod, V1StatefulSet>();
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (await WorkloadPods.GetLiveAsync<V1StatefulSet>(client, key, cancellationToken).ConfigureAwait(false) is not { } sts)
        {
            return ReconcileResult.Done;
        }

        var revision = $"{sts.Metadata.Name}-{WorkloadPods.TemplateHash(sts.Spec.Template, sts.Status?.CollisionCount)}";
        var replicas = sts.Spec.Replicas ?? 1;
        var ordered = sts.Spec.PodManagementPolicy != "Parallel";
        var pods = (await WorkloadPods.ListOwnedAsync<V1Pod>(client, sts.Metadata.NamespaceProperty, sts.Spec.Selector, sts.Metadata.Uid, cancellationToken).ConfigureAwait(false))
            .Select(p => (Ordinal: OrdinalOf(sts, p), Pod: p))
            .Where(p => p.Ordinal >= 0)
            .ToDictionary(p => p.Ordinal, p => p.Pod);

        await StepAsync(sts, pods, replicas, ordered, revision, cancellationToken).ConfigureAwait(false);
        await UpdateStatusAsync(sts, pods, replicas, revision, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    private static int OrdinalOf(V1StatefulSet sts, V1Pod pod)
    {
        var prefix = sts.Metadata.Name + "-";
        return pod.Metadata.Name.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(pod.Metadata.Name.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal) ? ordinal : -1;
    }

    private static bool IsHealthy(V1Pod pod) =>
        pod.Metadata.DeletionTimestamp is null && pod.Status?.Phase == "Running" && WorkloadPods.IsReady(pod);

    /// <summary>One step toward the wanted pods; with ordering, it stops at the first pod that is not yet healthy.</summary>
    private async Task StepAsync(V1StatefulSet sts, Dictionary<int, V1Pod> pods, int replicas, bool ordered, string revision, CancellationToken cancellationToken)
    {
        // Failed pods are replaced under their own name.
        foreach (var (ordinal, pod) in pods.Where(p => p.Value.Status?.Phase == "Failed" && p.Value.Metadata.DeletionTimestamp is null).ToList())
        {
            await DeleteAsync(sts, pod, cancellationToken).ConfigureAwait(false);
            pods.Remove(ordinal);
        }

        // Up, in order.
        for (var ordinal = 0; ordinal < replicas; ordinal++)
        {
            if (!pods.TryGetValue(ordinal, out var pod))
            {
                pods[ordinal] = await CreateAsync(sts, ordinal, revision, cancellationToken).ConfigureAwait(false);
                if (ordered)
                {
                    return;
                }

                continue;
            }

            if (ordered && !IsHealthy(pod))
            {
                return;
            }
        }

        // Down, highest first; with ordering one at a time, and only while the rest are healthy.
        var condemned = pods.Keys.Where(o => o >= replicas).OrderByDescending(o => o).ToList();
        foreach (var ordinal in condemned)
        {
            var pod = pods[ordinal];
            if (pod.Metadata.DeletionTimestamp is not null)
            {
                if (ordered)
                {
                    return;
                }

                continue;
            }

            if (ordered && pods.Where(p => p.Key < ordinal).Any(p => !IsHealthy(p.Value)))
            {
                return;
            }

            await DeleteAsync(sts, pod, cancellationToken).ConfigureAwait(false);
            if (ordered)
            {
                return;
            }
        }

        if (condemned.Count > 0 || sts.Spec.UpdateStrategy?.Type == "OnDelete")
        {
            return;
        }

        // Rolling update: from the highest ordinal down to the partition, one pod at a time.
        var partition = sts.Spec.UpdateStrategy?.RollingUpdate?.Partition ?? 0;
        if (pods.Values.Any(p => !IsHealthy(p)))
        {
            return;
        }

        var outdated = pods.Where(p => p.Key >= partition && WorkloadPods.RevisionOf(p.Value) != revision).OrderByDescending(p => p.Key).Select(p => p.Value).FirstOrDefault();
        if (outdated is not null)
        {
            await DeleteAsync(sts, outdated, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<V1Pod> CreateAsync(V1StatefulSet sts, int ordinal, string revision, CancellationToken cancellationToken)
    {
        var name = $"{sts.Metadata.Name}-{ordinal.ToString(CultureInfo.InvariantCulture)}";
        var pod = WorkloadPods.FromTemplate(sts.Spec.Template, sts.Metadata.NamespaceProperty, WorkloadPods.ControllerReference(sts), name: name);
        pod.Metadata.Labels = new Dictionary<string, string>(pod.Metadata.Labels ?? new Dictionary<string, string>())
        {
            [PodNameLabel] = name,
            [PodIndexLabel] = ordinal.ToString(CultureInfo.InvariantCulture),
            [WorkloadPods.RevisionHashLabel] = revision,
        };
        pod.Spec ??= new V1PodSpec();
        pod.Spec.Hostname = name;
        if (!string.IsNullOrEmpty(sts.Spec.ServiceName))
        {
            pod.Spec.Subdomain = sts.Spec.ServiceName;
        }

        try
        {
            var created = await client.CreateAsync(pod, cancellationToken).ConfigureAwait(false);
            await events.RecordAsync(sts, "Normal", "SuccessfulCreate", $"create Pod {name} in StatefulSet {sts.Metadata.Name} successful", Component, cancellationToken).ConfigureAwait(false);
            LogPodCreated(sts.Metadata.NamespaceProperty, sts.Metadata.Name, name);
            return created;
        }
        catch (AlreadyExistsException)
        {
            // The previous pod of that name is still going away: wait for it.
            return await client.GetAsync<V1Pod>(sts.Metadata.NamespaceProperty, name, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeleteAsync(V1StatefulSet sts, V1Pod pod, CancellationToken cancellationToken)
    {
        try
        {
            await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid }, cancellationToken).ConfigureAwait(false);
            await events.RecordAsync(sts, "Normal", "SuccessfulDelete", $"delete Pod {pod.Metadata.Name} in StatefulSet {sts.Metadata.Name} successful", Component, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
        }
    }

    private async Task UpdateStatusAsync(V1StatefulSet sts, Dictionary<int, V1Pod> pods, int replicas, string revision, CancellationToken cancellationToken)
    {
        var live = pods.Values.Where(p => p.Metadata.DeletionTimestamp is null).ToList();
        var updated = live.Count(p => WorkloadPods.RevisionOf(p) == revision);
        var currentRevision = updated >= replicas && live.Count == replicas ? revision : sts.Status?.CurrentRevision ?? revision;
        var status = new V1StatefulSetStatus
        {
            ObservedGeneration = sts.Metadata.Generation,
            Replicas = live.Count,
            ReadyReplicas = live.Count(WorkloadPods.IsReady),
            AvailableReplicas = live.Count(WorkloadPods.IsReady),
            CurrentReplicas = live.Count(p => WorkloadPods.RevisionOf(p) == currentRevision),
            UpdatedReplicas = updated,
            CurrentRevision = currentRevision,
            UpdateRevision = revision,
            CollisionCount = sts.Status?.CollisionCount ?? 0,
            Conditions = sts.Status?.Conditions,
        };
        if (sts.Status is { } s && s.ObservedGeneration == status.ObservedGeneration && s.Replicas == status.Replicas && s.ReadyReplicas == status.ReadyReplicas
            && s.AvailableReplicas == status.AvailableReplicas && s.CurrentReplicas == status.CurrentReplicas && s.UpdatedReplicas == status.UpdatedReplicas
            && s.CurrentRevision == status.CurrentRevision && s.UpdateRevision == status.UpdateRevision)
        {
            return;
        }

        sts.Status = status;
        await WorkloadPods.WriteStatusAsync(client, sts, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1460, Level = LogLevel.Information, Message = "StatefulSet {Namespace}/{Name}: created pod {Pod}")]
    private partial void LogPodCreated(string? @namespace, string name, string pod);
}
