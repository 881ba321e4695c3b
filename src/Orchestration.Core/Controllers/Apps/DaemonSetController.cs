using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Scheduling;
using Orchestration.Scheduling.Plugins;

namespace Orchestration.Controllers.Apps;

/// <summary>
/// Runs one pod of each DaemonSet on every node it should run on (the node matches its node
/// selector and required affinity, and its taints are tolerated, counting the tolerations every
/// daemon pod gets). Each pod is pinned to its node by a required node affinity on
/// <c>metadata.name</c> and placed by the scheduler, as Kubernetes does. Pods on nodes that no
/// longer qualify are deleted; a template change replaces pods node by node, at most
/// <c>maxUnavailable</c> at a time; the status counts are the ones <c>kubectl rollout status</c> reads.
/// </summary>
public sealed partial class DaemonSetController(IClusterClient client, EventRecorder events, TimeProvider timeProvider, ILogger<DaemonSetController> logger) : IController
{
    /// <summary>The component name on its events.</summary>
    public const string Component = "daemonset-controller";

    private static readonly TaintTolerationPlugin Taints = new();
    private static readonly NodeAffinityPlugin Affinity = new();

    // Daemons keep running through node trouble: these are added to every daemon pod.
    private static readonly V1Toleration[] DaemonTolerations =
    [
        new() { Key = "node.kubernetes.io/not-ready", OperatorProperty = "Exists", Effect = "NoExecute" },
        new() { Key = "node.kubernetes.io/unreachable", OperatorProperty = "Exists", Effect = "NoExecute" },
        new() { Key = "node.kubernetes.io/disk-pressure", OperatorProperty = "Exists", Effect = "NoSchedule" },
        new() { Key = "node.kubernetes.io/memory-pressure", OperatorProperty = "Exists", Effect = "NoSchedule" },
        new() { Key = "node.kubernetes.io/pid-pressure", OperatorProperty = "Exists", Effect = "NoSchedule" },
        new() { Key = "node.kubernetes.io/unschedulable", OperatorProperty = "Exists", Effect = "NoSchedule" },
    ];

    /// <summary>Registers the controller: DaemonSets, their pods, and nodes (a node change may concern every DaemonSet).</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1DaemonSet>().Owns<V1Pod, V1DaemonSet>().Watches<V1Node>((informers, _) =>
            informers.For<V1DaemonSet>().Cache.List().Select(ds => new ObjectKey(ds.Metadata.NamespaceProperty, ds.Metadata.Name)));
    }

    /// <summary>The node a daemon pod is meant for: its node name once bound, else its pinning affinity.</summary>
    public static string? TargetNode(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        if (pod.Spec?.NodeName is { Length: > 0 } bound)
        {
            return bound;
        }

        return pod.Spec?.Affinity?.NodeAffinity?.RequiredDuringSchedulingIgnoredDuringExecution?.NodeSelectorTerms?
            .SelectMany(t => t.MatchFields ?? [])
            .FirstOrDefault(f => f.Key == "metadata.name" && f.OperatorProperty == "In")?.Values?.FirstOrDefault();
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (await WorkloadPods.GetLiveAsync<V1DaemonSet>(client, key, cancellationToken).ConfigureAwait(false) is not { } ds)
        {
            return ReconcileResult.Done;
        }

        var hash = WorkloadPods.TemplateHash(ds.Spec.Template);
        var nodes = (await client.ListAsync<V1Node>(null, cancellationToken: cancellationToken).ConfigureAwait(false)).Items.Where(n => n.Metadata.DeletionTimestamp is null).ToList();
        var pods = (await WorkloadPods.ListOwnedAsync<V1Pod>(client, ds.Metadata.NamespaceProperty, ds.Spec.Selector, ds.Metadata.Uid, cancellationToken).ConfigureAwait(false))
            .Where(p => p.Metadata.DeletionTimestamp is null)
            .ToList();
        var probe = SchedulingPod.From(PodFor(ds, "", hash));
        var eligible = nodes.Where(n => ShouldRun(probe, n)).Select(n => n.Metadata.Name).ToHashSet(StringComparer.Ordinal);
        var byNode = pods.GroupBy(p => TargetNode(p) ?? "").ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

        var toDelete = new List<V1Pod>();
        var toCreate = new List<string>();
        foreach (var (node, onNode) in byNode)
        {
            if (!eligible.Contains(node))
            {
                toDelete.AddRange(onNode);
                continue;
            }

            // Failed daemons are replaced; of several, the oldest stays.
            var failed = onNode.Where(p => p.Status?.Phase == "Failed").ToList();
            toDelete.AddRange(failed);
            var running = onNode.Except(failed).OrderBy(p => p.Metadata.CreationTimestamp).ToList();
            toDelete.AddRange(running.Skip(1));
            if (running.Count == 0)
            {
                toCreate.Add(node);
            }
        }

        toCreate.AddRange(eligible.Where(n => !byNode.ContainsKey(n)));

        // A rolling update: replace outdated pods while no more than maxUnavailable are unavailable.
        var current = byNode.Where(e => eligible.Contains(e.Key)).Select(e => e.Value.Where(p => p.Status?.Phase != "Failed").OrderBy(p => p.Metadata.CreationTimestamp).FirstOrDefault()).OfType<V1Pod>().ToList();
        if (ds.Spec.UpdateStrategy?.Type != "OnDelete")
        {
            var maxUnavailable = Math.Max(1, WorkloadPods.ScaledValue(ds.Spec.UpdateStrategy?.RollingUpdate?.MaxUnavailable, eligible.Count, roundUp: false, whenUnset: 1));
            var unavailable = toCreate.Count + current.Count(p => !WorkloadPods.IsAvailable(p, ds.Spec.MinReadySeconds ?? 0, timeProvider.GetUtcNow(), out _));
            foreach (var outdated in current.Where(p => WorkloadPods.RevisionOf(p) != hash).OrderBy(p => WorkloadPods.IsReady(p) ? 1 : 0))
            {
                var wasAvailable = WorkloadPods.IsReady(outdated);
                if (wasAvailable && unavailable >= maxUnavailable)
                {
                    break;
                }

                toDelete.Add(outdated);
                if (wasAvailable)
                {
                    unavailable++;
                }
            }
        }

        foreach (var pod in toDelete.Distinct())
        {
            try
            {
                await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid }, cancellationToken).ConfigureAwait(false);
                await events.RecordAsync(ds, "Normal", "SuccessfulDelete", $"Deleted pod: {pod.Metadata.Name}", Component, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
            }
        }

        foreach (var node in toCreate)
        {
            var pod = await client.CreateAsync(PodFor(ds, node, hash), cancellationToken).ConfigureAwait(false);
            await events.RecordAsync(ds, "Normal", "SuccessfulCreate", $"Created pod: {pod.Metadata.Name}", Component, cancellationToken).ConfigureAwait(false);
        }

        if (toCreate.Count > 0 || toDelete.Count > 0)
        {
            LogPodsChanged(key, toCreate.Count, toDelete.Distinct().Count());
        }

        await UpdateStatusAsync(ds, eligible, byNode, hash, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    private static bool ShouldRun(SchedulingPod pod, V1Node node)
    {
        // The two filters read nothing from the cycle's state: a fresh one per node is enough.
        var candidate = SchedulingNode.From(node);
        var cycle = new SchedulingCycle { Nodes = [candidate] };
        return Taints.Filter(cycle, pod, candidate).IsSuccess && Affinity.Filter(cycle, pod, candidate).IsSuccess;
    }

    private static V1Pod PodFor(V1DaemonSet ds, string node, string hash)
    {
        var pod = WorkloadPods.FromTemplate(ds.Spec.Template, ds.Metadata.NamespaceProperty, WorkloadPods.ControllerReference(ds), generateName: $"{ds.Metadata.Name}-");
        pod.Metadata.Labels = new Dictionary<string, string>(pod.Metadata.Labels ?? new Dictionary<string, string>()) { [WorkloadPods.RevisionHashLabel] = hash };
        pod.Spec ??= new V1PodSpec();
        var tolerations = (pod.Spec.Tolerations ?? []).ToList();
        foreach (var toleration in DaemonTolerations)
        {
            if (!tolerations.Any(t => t.Key == toleration.Key && t.Effect == toleration.Effect))
            {
                tolerations.Add(toleration);
            }
        }

        pod.Spec.Tolerations = tolerations;
        if (node.Length == 0)
        {
            return pod;
        }

        // Eligibility was decided here against the template's own affinity; the pod now names its node.
        pod.Spec.Affinity ??= new V1Affinity();
        pod.Spec.Affinity.NodeAffinity ??= new V1NodeAffinity();
        pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = new V1NodeSelector
        {
            NodeSelectorTerms = [new V1NodeSelectorTerm { MatchFields = [new V1NodeSelectorRequirement { Key = "metadata.name", OperatorProperty = "In", Values = [node] }] }],
        };
        return pod;
    }

    private async Task UpdateStatusAsync(V1DaemonSet ds, HashSet<string> eligible, Dictionary<string, List<V1Pod>> byNode, string hash, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        var scheduled = byNode.Where(e => eligible.Contains(e.Key)).Select(e => e.Value.OrderBy(p => p.Metadata.CreationTimestamp).First()).ToList();
        var available = scheduled.Count(p => WorkloadPods.IsAvailable(p, ds.Spec.MinReadySeconds ?? 0, now, out _));
        var status = new V1DaemonSetStatus
        {
            DesiredNumberScheduled = eligible.Count,
            CurrentNumberScheduled = scheduled.Count,
            NumberMisscheduled = byNode.Keys.Count(n => !eligible.Contains(n)),
            NumberReady = scheduled.Count(WorkloadPods.IsReady),
            NumberAvailable = available,
            NumberUnavailable = Math.Max(0, eligible.Count - available),
            UpdatedNumberScheduled = scheduled.Count(p => WorkloadPods.RevisionOf(p) == hash),
            ObservedGeneration = ds.Metadata.Generation,
            CollisionCount = ds.Status?.CollisionCount,
            Conditions = ds.Status?.Conditions,
        };
        if (ds.Status is { } s && s.DesiredNumberScheduled == status.DesiredNumberScheduled && s.CurrentNumberScheduled == status.CurrentNumberScheduled
            && s.NumberMisscheduled == status.NumberMisscheduled && s.NumberReady == status.NumberReady && s.NumberAvailable == status.NumberAvailable
            && s.NumberUnavailable == status.NumberUnavailable && s.UpdatedNumberScheduled == status.UpdatedNumberScheduled && s.ObservedGeneration == status.ObservedGeneration)
        {
            return;
        }

        ds.Status = status;
        await WorkloadPods.WriteStatusAsync(client, ds, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1440, Level = LogLevel.Information, Message = "DaemonSet {Key}: created {Created} pods, deleted {Deleted}")]
    private partial void LogPodsChanged(ObjectKey key, int created, int deleted);
}
