using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Resources;

namespace Orchestration.Controllers.Apps;

/// <summary>
/// Keeps a ReplicaSet's number of pods: creates pods from its template (owned by it) when there
/// are too few, deletes the least valuable ones when there are too many (unscheduled before
/// scheduled, pending before running, not ready before ready, newest first), and reports replicas,
/// ready, available (ready for minReadySeconds) and fully labeled counts in its status.
/// </summary>
/// <remarks>
/// Under the controller manager it reads pods from the shared informer's cache (indexed by
/// controller uid), and remembers the pods it created or deleted until the cache shows them, so a
/// reconcile never acts twice on a change the cache has not caught up with (kube-controller-manager's
/// expectations). Reconciled by hand, without running informers, it reads with a consistent list.
/// </remarks>
public sealed partial class ReplicaSetController(IClusterClient client, EventRecorder events, TimeProvider timeProvider, ILogger<ReplicaSetController> logger, ControllerContext? context = null) : IController
{
    private const string ControllerIndex = "controller-uid";

    // How long a creation or deletion the cache has not shown yet is waited for.
    private static readonly TimeSpan ExpectationTimeout = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Expectations> _expectations = new(StringComparer.Ordinal);

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

        var owned = await OwnedPodsAsync(rs, cancellationToken).ConfigureAwait(false);
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
                        ExpectationsOf(rs)?.Deleted.TryAdd(pod.Metadata.Uid, timeProvider.GetUtcNow());
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
            if (ExpectationsOf(rs) is { } expected)
            {
                foreach (var pod in pods)
                {
                    expected.Created[pod.Metadata.Name] = (pod, timeProvider.GetUtcNow());
                }
            }

            created += size;
            await Task.WhenAll(pods.Select(pod => events.RecordAsync(rs, "Normal", "SuccessfulCreate", $"Created pod: {pod.Metadata.Name}", Component, cancellationToken))).ConfigureAwait(false);
        }

        LogPodsCreated(rs.Metadata.NamespaceProperty, rs.Metadata.Name, created);
    }

    /// <summary>
    /// The pods the ReplicaSet controls: from the informer's cache, with the pods this controller
    /// created that the cache does not show yet and without those it deleted that it still shows.
    /// </summary>
    private async Task<List<V1Pod>> OwnedPodsAsync(V1ReplicaSet rs, CancellationToken cancellationToken)
    {
        if (context?.Current?.For<V1Pod>() is not { HasSynced: true } informer)
        {
            return await WorkloadPods.ListOwnedAsync<V1Pod>(client, rs.Metadata.NamespaceProperty, rs.Spec.Selector, rs.Metadata.Uid, cancellationToken).ConfigureAwait(false);
        }

        informer.Cache.AddIndex(ControllerIndex, p => (p.Metadata.OwnerReferences ?? []).Where(o => o.Controller == true).Select(o => o.Uid));
        var selector = LabelSelector.Parse(LabelSelectors.ToString(rs.Spec.Selector));
        var cached = informer.Cache.ByIndex(ControllerIndex, rs.Metadata.Uid).Where(p => selector.Matches(p.Metadata.Labels)).ToList();
        var expected = ExpectationsOf(rs)!;
        var now = timeProvider.GetUtcNow();
        var names = cached.Select(p => p.Metadata.Name).ToHashSet(StringComparer.Ordinal);
        var uids = cached.Select(p => p.Metadata.Uid).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, (pod, since)) in expected.Created)
        {
            if (names.Contains(name) || now - since > ExpectationTimeout)
            {
                expected.Created.TryRemove(name, out _);
            }
            else
            {
                cached.Add(pod);
            }
        }

        foreach (var (uid, since) in expected.Deleted)
        {
            if (!uids.Contains(uid) || now - since > ExpectationTimeout)
            {
                expected.Deleted.TryRemove(uid, out _);
            }
        }

        return cached.Where(p => !expected.Deleted.ContainsKey(p.Metadata.Uid)).ToList();
    }

    private Expectations? ExpectationsOf(V1ReplicaSet rs) =>
        context?.Current is null ? null : _expectations.GetOrAdd(rs.Metadata.Uid, _ => new Expectations());

    /// <summary>Pods created and deleted by this controller that the cache has not caught up with.</summary>
    private sealed class Expectations
    {
        public ConcurrentDictionary<string, (V1Pod Pod, DateTimeOffset Since)> Created { get; } = new(StringComparer.Ordinal);

        public ConcurrentDictionary<string, DateTimeOffset> Deleted { get; } = new(StringComparer.Ordinal);
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
        await WorkloadPods.WriteStatusAsync(client, rs, cancellationToken).ConfigureAwait(false);

        return result;
    }

    [LoggerMessage(EventId = 1430, Level = LogLevel.Information, Message = "ReplicaSet {Namespace}/{Name}: created {Count} pods")]
    private partial void LogPodsCreated(string? @namespace, string name, int count);
}
