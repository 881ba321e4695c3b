using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.Informers;
using Orchestration.Scheduling;
using Orchestration.Scheduling.Cache;
using Orchestration.Scheduling.Queue;

namespace Orchestration.Controllers.Scheduler;

/// <summary>
/// The kube-scheduler role, run by the controller manager while it leads. The pod and node
/// informers feed a <see cref="SchedulerCache"/> (nodes and bound pods, adjusted per event) and a
/// <see cref="SchedulingQueue"/> (pending pods of the default scheduler). One loop takes the first
/// pod, places it with the <see cref="IScheduler"/> over the cache's snapshot, assumes it there,
/// binds through pods/binding and records a Scheduled event. A pod that fits nowhere gets a
/// FailedScheduling event and PodScheduled=False (reason Unschedulable) and waits in the queue for
/// a cluster event; if preemption found room, the victims are deleted (with a Preempted event) and
/// the pod's status.nominatedNodeName is set before it waits for them to go.
/// </summary>
public sealed partial class SchedulerController(IClusterClient client, IScheduler scheduler, EventRecorder events, IOptions<SchedulerOptions> options, TimeProvider timeProvider, ILogger<SchedulerController> logger) : IControllerLoop
{
    /// <summary>The name pods ask for in spec.schedulerName.</summary>
    public const string Name = "default-scheduler";

    private readonly SemaphoreSlim _bindings = new(MaxBindingsInFlight);

    /// <summary>How many bindings may be in flight at once.</summary>
    private const int MaxBindingsInFlight = 64;

    /// <inheritdoc />
    public async Task RunAsync(InformerFactory informers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(informers);

        // Fresh state per term of leadership, as the informers are.
        var cache = new SchedulerCache(timeProvider, options.Value.AssumedPodExpiry);
        var sort = scheduler is DefaultScheduler defaults ? defaults.QueueSort : new Scheduling.Plugins.PrioritySortPlugin();
        using var queue = new SchedulingQueue(sort, timeProvider, options.Value.Queue);
        var pods = informers.For<V1Pod>();
        var nodes = informers.For<V1Node>();
        var handlers = new InformerHandlers(cache, queue, logger);
        pods.Added += handlers.PodAdded;
        pods.Updated += handlers.PodUpdated;
        pods.Deleted += handlers.PodDeleted;
        nodes.Added += handlers.NodeAdded;
        nodes.Updated += handlers.NodeUpdated;
        nodes.Deleted += handlers.NodeDeleted;
        try
        {
            await Task.WhenAll(pods.WaitForSyncAsync(cancellationToken), nodes.WaitForSyncAsync(cancellationToken)).ConfigureAwait(false);

            // The controller manager attaches loops before its informers start, so every object comes
            // through the handlers. Should an informer have run already, the objects it listed before
            // the handlers were attached are taken from its cache; only ones the scheduler has not
            // heard of, so that a replayed copy never overwrites a newer event's.
            foreach (var node in nodes.Cache.List())
            {
                if (cache.FindNode(node.Metadata.Name) is null)
                {
                    handlers.NodeAdded(node);
                }
            }

            foreach (var pod in pods.Cache.List())
            {
                var key = $"{pod.Metadata.NamespaceProperty ?? "default"}/{pod.Metadata.Name}";
                if (!queue.Contains(key) && !cache.Knows(key))
                {
                    handlers.PodAdded(pod);
                }
            }

            using var registration = cancellationToken.Register(queue.Close);
            while (await queue.PopAsync(CancellationToken.None).ConfigureAwait(false) is { } queued)
            {
                try
                {
                    await ScheduleOneAsync(pods.Cache, cache, queue, queued, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    // One pod's failure is retried with backoff, never fatal to the loop.
                    LogSchedulingFailed(ex, queued.Pod.Key, queued.Attempts);
                    queue.AddUnschedulable(queued, error: true);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            pods.Added -= handlers.PodAdded;
            pods.Updated -= handlers.PodUpdated;
            pods.Deleted -= handlers.PodDeleted;
            nodes.Added -= handlers.NodeAdded;
            nodes.Updated -= handlers.NodeUpdated;
            nodes.Deleted -= handlers.NodeDeleted;
        }
    }

    private async Task ScheduleOneAsync(ObjectCache<V1Pod> podCache, SchedulerCache cache, SchedulingQueue queue, QueuedPod queued, CancellationToken cancellationToken)
    {
        var key = queued.Pod.Key;
        var pod = podCache.Get(queued.Pod.Namespace, queued.Pod.Name);
        if (pod is null || !string.IsNullOrEmpty(pod.Spec?.NodeName) || pod.Metadata.DeletionTimestamp is not null)
        {
            queue.Done(key);
            return;
        }

        var result = cache.Schedule(scheduler, queued.Pod);
        if (!result.Scheduled)
        {
            LogUnschedulable(key, result.Message);
            await events.RecordAsync(pod, "Warning", "FailedScheduling", result.Message!, Name, cancellationToken).ConfigureAwait(false);
            if (result.NominatedNodeName is { } nominated)
            {
                queued.Pod = queued.Pod with { NominatedNodeName = nominated };
                cache.Nominate(queued.Pod, nominated);
                await PreemptAsync(pod, nominated, result.Victims, cancellationToken).ConfigureAwait(false);
            }

            await MarkUnschedulableAsync(pod, result.Message!, result.NominatedNodeName, cancellationToken).ConfigureAwait(false);
            queue.AddUnschedulable(queued);
            return;
        }

        // The binding cycle runs beside the next pods' scheduling cycles, as kube-scheduler's does:
        // the pod is assumed on its node already, so the next decisions count it. In-flight
        // bindings are bounded so a slow API server slows the loop instead of piling up requests.
        await _bindings.WaitAsync(cancellationToken).ConfigureAwait(false);
        _ = Task.Run(() => BindAsync(cache, queue, queued, pod, result.NodeName!, cancellationToken), CancellationToken.None);
    }

    private async Task BindAsync(SchedulerCache cache, SchedulingQueue queue, QueuedPod queued, V1Pod pod, string nodeName, CancellationToken cancellationToken)
    {
        var key = queued.Pod.Key;
        try
        {
            if (!await BindByPluginAsync(queued.Pod, nodeName, cancellationToken).ConfigureAwait(false))
            {
                // The default binder: the pods/binding subresource.
                await client.BindAsync(queued.Pod.Namespace, queued.Pod.Name, nodeName, cancellationToken).ConfigureAwait(false);
            }

            cache.FinishBinding(key);
            queue.Done(key);
            await events.RecordAsync(pod, "Normal", "Scheduled", $"Successfully assigned {key} to {nodeName}", Name, cancellationToken).ConfigureAwait(false);
        }
        catch (ConflictException)
        {
            // Bound meanwhile (by us before a restart, or by someone else): the informer will show
            // where; until then the assumption holds the room.
            cache.FinishBinding(key);
            queue.Done(key);
        }
        catch (NotFoundException)
        {
            Unreserve(cache, queued.Pod, nodeName);
            cache.Forget(key);
            queue.Done(key);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Unreserve(cache, queued.Pod, nodeName);
            cache.Forget(key);
        }
        catch (Exception ex)
        {
            // The room is given back and the pod tried again with backoff.
            LogBindingFailed(ex, key, nodeName, queued.Attempts);
            Unreserve(cache, queued.Pod, nodeName);
            cache.Forget(key);
            queue.AddUnschedulable(queued, error: true);
        }
        finally
        {
            _bindings.Release();
        }
    }

    /// <summary>Asks the bind plugins in order; true when one of them bound the pod.</summary>
    private async Task<bool> BindByPluginAsync(SchedulingPod pod, string nodeName, CancellationToken cancellationToken)
    {
        if (scheduler is DefaultScheduler framework)
        {
            foreach (var binder in framework.BindPlugins)
            {
                if (await binder.BindAsync(pod, nodeName, cancellationToken).ConfigureAwait(false))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The reserve plugins give back what they held for a pod that was not bound.</summary>
    private void Unreserve(SchedulerCache cache, SchedulingPod pod, string nodeName)
    {
        if (scheduler is DefaultScheduler framework && cache.FindNode(nodeName) is { } node)
        {
            framework.Unreserve(pod, node);
        }
    }

    private async Task PreemptAsync(V1Pod preemptor, string node, IReadOnlyList<SchedulingPod> victims, CancellationToken cancellationToken)
    {
        foreach (var victim in victims)
        {
            LogPreempting(victim.Key, node, $"{preemptor.Metadata.NamespaceProperty}/{preemptor.Metadata.Name}");
            try
            {
                var current = await client.GetAsync<V1Pod>(victim.Namespace, victim.Name, cancellationToken).ConfigureAwait(false);
                if (string.IsNullOrEmpty(current.Spec?.NodeName))
                {
                    // A pending pod holding a nominated node's room, not a running one: it is never
                    // deleted; its nomination yields once it is tried again.
                    continue;
                }

                await client.DeleteAsync<V1Pod>(victim.Namespace, victim.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
                await events.RecordAsync(current, "Normal", "Preempted", $"Preempted by pod {preemptor.Metadata.Uid ?? preemptor.Metadata.Name} on node {node}", Name, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
                // Gone already: the room is free.
            }
        }
    }

    private async Task MarkUnschedulableAsync(V1Pod pod, string message, string? nominatedNode, CancellationToken cancellationToken)
    {
        var conditions = pod.Status?.Conditions ?? [];
        if (conditions.Any(c => c.Type == "PodScheduled" && c.Status == "False" && c.Message == message) && (nominatedNode is null || pod.Status?.NominatedNodeName == nominatedNode))
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
            if (nominatedNode is not null)
            {
                current.Status.NominatedNodeName = nominatedNode;
            }

            await client.UpdateStatusAsync(current, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NotFoundException or ConflictException)
        {
        }
    }

    [LoggerMessage(EventId = 1600, Level = LogLevel.Warning, Message = "Scheduling {Pod} failed (attempt {Attempt})")]
    private partial void LogSchedulingFailed(Exception ex, string pod, int attempt);

    [LoggerMessage(EventId = 1601, Level = LogLevel.Information, Message = "Pod {Pod} is unschedulable: {Message}")]
    private partial void LogUnschedulable(string pod, string? message);

    [LoggerMessage(EventId = 1602, Level = LogLevel.Warning, Message = "Binding {Pod} to {Node} failed (attempt {Attempt})")]
    private partial void LogBindingFailed(Exception ex, string pod, string node, int attempt);

    [LoggerMessage(EventId = 1603, Level = LogLevel.Information, Message = "Preempting {Victim} on {Node} for {Pod}")]
    private partial void LogPreempting(string victim, string node, string pod);

    /// <summary>Turns informer events into cache adjustments and queue moves; they run on the informers' threads, briefly.</summary>
    private sealed partial class InformerHandlers(SchedulerCache cache, SchedulingQueue queue, ILogger logger)
    {
        public void NodeAdded(V1Node node) => Guard(node, () =>
        {
            cache.AddOrUpdateNode(node);
            queue.MoveAllToActiveOrBackoff();
        });

        public void NodeUpdated(V1Node old, V1Node node) => Guard(node, () => OnNodeUpdated(old, node));

        public void NodeDeleted(V1Node node) => Guard(node, () => cache.RemoveNode(node.Metadata.Name));

        public void PodAdded(V1Pod pod) => Guard(pod, () => Upsert(pod, mayHelp: true));

        public void PodUpdated(V1Pod old, V1Pod pod) => Guard(pod, () => OnPodUpdated(old, pod));

        public void PodDeleted(V1Pod pod) => Guard(pod, () => OnPodDeleted(pod));

        // A handler's exception would end the informer's watch: log it and go on with the next event.
        private void Guard(IKubernetesObject<V1ObjectMeta> obj, Action handle)
        {
            try
            {
                handle();
            }
            catch (Exception ex)
            {
                LogEventNotTakenIn(ex, obj.Kind, obj.Metadata?.Name);
            }
        }

        private void OnNodeUpdated(V1Node old, V1Node node)
        {
            // Heartbeats change only conditions: the scheduler's view, and pending pods' chances, stay.
            if (ReferenceEquals(old, node) || SameForScheduling(old, node))
            {
                return;
            }

            cache.AddOrUpdateNode(node);
            queue.MoveAllToActiveOrBackoff();
        }

        private void OnPodUpdated(V1Pod old, V1Pod pod)
        {
            var wasHolding = Holds(old);
            Upsert(pod, mayHelp: !ReferenceEquals(old, pod) && !SameSpecAndLabels(old, pod));
            if (wasHolding && !Holds(pod))
            {
                // A pod finished: its node has room again.
                queue.MoveAllToActiveOrBackoff();
            }
        }

        private void OnPodDeleted(V1Pod pod)
        {
            var key = KeyOf(pod);
            queue.Delete(key);

            // A pending pod may hold a nominated node's room: it goes too.
            cache.RemovePod(key);
            if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
            {
                queue.MoveAllToActiveOrBackoff();
            }
        }

        private void Upsert(V1Pod pod, bool mayHelp)
        {
            var key = KeyOf(pod);
            if (!string.IsNullOrEmpty(pod.Spec?.NodeName))
            {
                queue.Delete(key);
                if (Holds(pod))
                {
                    cache.AddOrUpdatePod(pod);
                }
                else
                {
                    cache.RemovePod(key);
                }
            }
            else if (pod.Metadata.DeletionTimestamp is null && (pod.Spec?.SchedulerName ?? Name) == Name)
            {
                if (mayHelp || !queue.Contains(key))
                {
                    queue.AddOrUpdate(SchedulingPod.From(pod));
                }
                else
                {
                    queue.Refresh(SchedulingPod.From(pod));
                }
            }
            else
            {
                queue.Delete(key);
            }
        }

        private static bool Holds(V1Pod pod) => !string.IsNullOrEmpty(pod.Spec?.NodeName) && pod.Status?.Phase is not ("Succeeded" or "Failed");

        private static string KeyOf(V1Pod pod) => $"{pod.Metadata.NamespaceProperty ?? "default"}/{pod.Metadata.Name}";

        private static bool SameSpecAndLabels(V1Pod old, V1Pod pod) =>
            Json(old.Spec) == Json(pod.Spec) && Json(old.Metadata.Labels) == Json(pod.Metadata.Labels);

        // Pending pods change rarely, so comparing their JSON is cheap enough and misses no field.
        private static string Json(object? value) => value is null ? "" : KubernetesJson.Serialize(value);

        private static bool SameForScheduling(V1Node old, V1Node node)
        {
            var before = SchedulingNode.From(old);
            var after = SchedulingNode.From(node);
            return before.Allocatable == after.Allocatable && before.MaxPods == after.MaxPods && before.Unschedulable == after.Unschedulable
                && before.Labels.Count == after.Labels.Count && before.Labels.All(l => after.Labels.TryGetValue(l.Key, out var v) && v == l.Value)
                && Json(old.Spec?.Taints) == Json(node.Spec?.Taints);
        }

        [LoggerMessage(EventId = 1604, Level = LogLevel.Error, Message = "The scheduler could not take in {Kind} {Name}")]
        private partial void LogEventNotTakenIn(Exception ex, string kind, string? name);
    }
}
