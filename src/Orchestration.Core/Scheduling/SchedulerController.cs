using System.Collections.Concurrent;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Events;
using Orchestration.Informers;

namespace Orchestration.Scheduling;

/// <summary>
/// The kube-scheduler role: takes pending pods (no node, the default scheduler's), places each with
/// the <see cref="IScheduler"/> over a snapshot of the nodes and the pods already on them (including
/// pods it bound that the cache has not shown yet), binds through pods/binding, and reports
/// Scheduled or FailedScheduling events. A pod that fits nowhere is marked PodScheduled=False and
/// tried again when a node changes, or after a while.
/// </summary>
public sealed class SchedulerController(IClusterClient client, ControllerContext context, IScheduler scheduler, EventRecorder events, TimeProvider timeProvider, ILogger<SchedulerController> logger) : IController
{
    /// <summary>The name pods ask for in spec.schedulerName.</summary>
    public const string Name = "default-scheduler";

    private readonly ConcurrentDictionary<string, string> _assumed = new(StringComparer.Ordinal);

    /// <summary>Registers the scheduler: pods, and node changes that may let pending pods fit. One worker: one decision at a time over one snapshot.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Pod>().Watches<V1Node>(PendingPods);
        builder.Workers = 1;
    }

    private static IEnumerable<ObjectKey> PendingPods(InformerFactory informers, V1Node node) =>
        informers.For<V1Pod>().Cache.List()
            .Where(p => string.IsNullOrEmpty(p.Spec?.NodeName) && p.Metadata.DeletionTimestamp is null)
            .Select(p => new ObjectKey(p.Metadata.NamespaceProperty, p.Metadata.Name));

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var podCache = context.Informers.For<V1Pod>().Cache;
        var nodeCache = context.Informers.For<V1Node>().Cache;
        var podKey = key.ToString();
        var pod = podCache.Get(key.Namespace, key.Name);
        if (pod is null || !string.IsNullOrEmpty(pod.Spec?.NodeName))
        {
            _assumed.TryRemove(podKey, out _);
            return ReconcileResult.Done;
        }

        if (pod.Metadata.DeletionTimestamp is not null || (pod.Spec?.SchedulerName ?? Name) != Name || _assumed.ContainsKey(podKey))
        {
            return ReconcileResult.Done;
        }

        var nodes = nodeCache.List()
            .Where(n => n.Metadata.DeletionTimestamp is null)
            .Select(SchedulingNode.From)
            .ToDictionary(n => n.Name, StringComparer.Ordinal);
        foreach (var other in podCache.List())
        {
            var placed = other.Spec?.NodeName is { Length: > 0 } bound ? bound : _assumed.GetValueOrDefault(ObjectKeyOf(other));
            if (placed is not null && nodes.TryGetValue(placed, out var node) && other.Metadata.DeletionTimestamp is null && other.Status?.Phase is not ("Succeeded" or "Failed"))
            {
                node.Add(SchedulingPod.From(other));
            }
        }

        var result = scheduler.Schedule(SchedulingPod.From(pod), nodes.Values.OrderBy(n => n.Name, StringComparer.Ordinal).ToList());
        if (!result.Scheduled)
        {
            logger.LogInformation("Pod {Pod} is unschedulable: {Message}", podKey, result.Message);
            await events.RecordAsync(pod, "Warning", "FailedScheduling", result.Message!, Name, cancellationToken).ConfigureAwait(false);
            await MarkUnschedulableAsync(pod, result.Message!, cancellationToken).ConfigureAwait(false);

            // Node changes bring it back sooner; this is the fallback.
            return ReconcileResult.After(TimeSpan.FromSeconds(30));
        }

        _assumed[podKey] = result.NodeName!;
        try
        {
            await client.BindAsync(key.Namespace, key.Name, result.NodeName!, cancellationToken).ConfigureAwait(false);
        }
        catch (ConflictException)
        {
            // Bound meanwhile (by us, before a restart, or by someone else): the cache will show where.
        }
        catch (NotFoundException)
        {
            _assumed.TryRemove(podKey, out _);
            return ReconcileResult.Done;
        }
        catch
        {
            _assumed.TryRemove(podKey, out _);
            throw;
        }

        await events.RecordAsync(pod, "Normal", "Scheduled", $"Successfully assigned {podKey} to {result.NodeName}", Name, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }

    private async Task MarkUnschedulableAsync(V1Pod pod, string message, CancellationToken cancellationToken)
    {
        var conditions = pod.Status?.Conditions ?? [];
        if (conditions.Any(c => c.Type == "PodScheduled" && c.Status == "False" && c.Message == message))
        {
            return;
        }

        try
        {
            var current = await client.GetAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, cancellationToken).ConfigureAwait(false);
            current.Status ??= new V1PodStatus();
            current.Status.Conditions = (current.Status.Conditions ?? []).Where(c => c.Type != "PodScheduled").Append(new V1PodCondition
            {
                Type = "PodScheduled",
                Status = "False",
                Reason = "Unschedulable",
                Message = message,
                LastTransitionTime = timeProvider.GetUtcNow().UtcDateTime,
            }).ToList();
            await client.UpdateStatusAsync(current, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NotFoundException or ConflictException)
        {
        }
    }

    private static string ObjectKeyOf(V1Pod pod) => new ObjectKey(pod.Metadata.NamespaceProperty, pod.Metadata.Name).ToString();
}
