using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Controllers.Apps;
using Orchestration.Events;

namespace Orchestration.Controllers.Batch;

/// <summary>
/// Runs Jobs to completion: keeps up to <c>parallelism</c> pods running until <c>completions</c>
/// have succeeded (or, without completions, until one has and the rest are done), recreates failed
/// pods after an exponential back-off (10 s doubling, at most 6 min) until more than
/// <c>backoffLimit</c> have failed, honours <c>activeDeadlineSeconds</c> and <c>suspend</c>, and
/// reports active, ready, succeeded and failed counts, start and completion times, and the Complete,
/// SuccessCriteriaMet, FailureTarget, Failed and Suspended conditions.
/// </summary>
public sealed partial class JobController(IClusterClient client, EventRecorder events, TimeProvider timeProvider, ILogger<JobController> logger) : IController
{
    /// <summary>The component name on its events.</summary>
    public const string Component = "job-controller";

    private static readonly TimeSpan BaseBackoff = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(6);

    /// <summary>Registers the controller: Jobs and the pods they own.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Job>().Owns<V1Pod, V1Job>();
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (await WorkloadPods.GetLiveAsync<V1Job>(client, key, cancellationToken).ConfigureAwait(false) is not { } job)
        {
            return ReconcileResult.Done;
        }

        var now = timeProvider.GetUtcNow().UtcDateTime;
        var pods = await WorkloadPods.ListOwnedAsync<V1Pod>(client, job.Metadata.NamespaceProperty, job.Spec.Selector, job.Metadata.Uid, cancellationToken).ConfigureAwait(false);
        var active = pods.Where(WorkloadPods.IsActive).ToList();
        var succeeded = pods.Count(p => p.Status?.Phase == "Succeeded");
        var failedPods = pods.Where(p => p.Status?.Phase == "Failed").ToList();

        // Pods may be removed once counted: the status never counts fewer than it did.
        succeeded = Math.Max(succeeded, job.Status?.Succeeded ?? 0);
        var failed = Math.Max(failedPods.Count, job.Status?.Failed ?? 0);
        var conditions = (job.Status?.Conditions ?? []).ToList();
        var finished = conditions.Any(c => c.Type is "Complete" or "Failed" && c.Status == "True");
        var status = new V1JobStatus
        {
            StartTime = job.Status?.StartTime,
            CompletionTime = job.Status?.CompletionTime,
            Succeeded = succeeded,
            Failed = failed,
            Conditions = conditions,
        };

        TimeSpan? recheck = null;
        var completions = job.Spec.Completions;
        var parallelism = job.Spec.Parallelism ?? 1;
        var backoffLimit = job.Spec.BackoffLimit ?? 6;
        if (!finished)
        {
            string? failure = null;
            string? failureMessage = null;
            if (failed > backoffLimit)
            {
                (failure, failureMessage) = ("BackoffLimitExceeded", "Job has reached the specified backoff limit");
            }
            else if (job.Spec.ActiveDeadlineSeconds is { } limit && status.StartTime is { } started && job.Spec.Suspend != true)
            {
                var end = started.ToUniversalTime() + TimeSpan.FromSeconds(limit);
                if (now >= end)
                {
                    (failure, failureMessage) = ("DeadlineExceeded", "Job was active longer than specified deadline");
                }
                else
                {
                    recheck = end - now;
                }
            }

            var complete = completions is { } wanted ? succeeded >= wanted : succeeded > 0 && active.Count == 0;
            if (failure is not null)
            {
                await DeleteAllAsync(active, cancellationToken).ConfigureAwait(false);
                active.Clear();
                SetCondition(conditions, "FailureTarget", failure, failureMessage!, now);
                SetCondition(conditions, "Failed", failure, failureMessage!, now);
                await events.RecordAsync(job, "Warning", failure, failureMessage!, Component, cancellationToken).ConfigureAwait(false);
                LogJobFailed(key, failure);
                recheck = null;
            }
            else if (complete)
            {
                await DeleteAllAsync(active, cancellationToken).ConfigureAwait(false);
                active.Clear();
                SetCondition(conditions, "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", now);
                SetCondition(conditions, "Complete", "CompletionsReached", "Reached expected number of succeeded pods", now);
                status.CompletionTime = now;
                await events.RecordAsync(job, "Normal", "Completed", "Job completed", Component, cancellationToken).ConfigureAwait(false);
                LogJobCompleted(key);
                recheck = null;
            }
            else if (job.Spec.Suspend == true)
            {
                await DeleteAllAsync(active, cancellationToken).ConfigureAwait(false);
                active.Clear();
                if (!conditions.Any(c => c.Type == "Suspended" && c.Status == "True"))
                {
                    SetCondition(conditions, "Suspended", "JobSuspended", "Job suspended", now);
                    await events.RecordAsync(job, "Normal", "Suspended", "Job suspended", Component, cancellationToken).ConfigureAwait(false);
                }

                // A suspended Job's clock restarts when it resumes.
                status.StartTime = null;
            }
            else
            {
                if (conditions.RemoveAll(c => c.Type == "Suspended") > 0)
                {
                    conditions.Add(new V1JobCondition { Type = "Suspended", Status = "False", Reason = "JobResumed", Message = "Job resumed", LastProbeTime = now, LastTransitionTime = now });
                    await events.RecordAsync(job, "Normal", "Resumed", "Job resumed", Component, cancellationToken).ConfigureAwait(false);
                }

                status.StartTime ??= now;
                var wantActive = completions is { } total
                    ? Math.Min(parallelism, total - succeeded)
                    : succeeded > 0 ? 0 : parallelism;
                if (active.Count > wantActive)
                {
                    var extra = active.OrderBy(p => p.Spec?.NodeName is { Length: > 0 } ? 1 : 0).ThenByDescending(p => p.Metadata.CreationTimestamp).Take(active.Count - wantActive).ToList();
                    await DeleteAllAsync(extra, cancellationToken).ConfigureAwait(false);
                    active.RemoveAll(extra.Contains);
                }
                else if (active.Count < wantActive)
                {
                    var wait = BackoffLeft(failedPods, failed, now);
                    if (wait > TimeSpan.Zero)
                    {
                        recheck = recheck is { } r && r < wait ? r : wait;
                    }
                    else
                    {
                        var owner = WorkloadPods.ControllerReference(job);
                        for (var i = active.Count; i < wantActive; i++)
                        {
                            var pod = await client.CreateAsync(WorkloadPods.FromTemplate(job.Spec.Template, job.Metadata.NamespaceProperty, owner, generateName: $"{job.Metadata.Name}-"), cancellationToken).ConfigureAwait(false);
                            active.Add(pod);
                            await events.RecordAsync(job, "Normal", "SuccessfulCreate", $"Created pod: {pod.Metadata.Name}", Component, cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }
        }

        status.Active = active.Count;
        status.Ready = active.Count(WorkloadPods.IsReady);
        status.Conditions = conditions.Count == 0 ? null : conditions;
        if (!Same(job.Status, status))
        {
            job.Status = status;
            await WorkloadPods.WriteStatusAsync(client, job, cancellationToken).ConfigureAwait(false);
        }

        return recheck is { } delay ? ReconcileResult.After(delay) : ReconcileResult.Done;
    }

    /// <summary>How long to wait before replacing failed pods: 10 s after the latest failure, doubling per failure, at most 6 min.</summary>
    private static TimeSpan BackoffLeft(List<V1Pod> failedPods, int failures, DateTime now)
    {
        if (failures == 0 || failedPods.Count == 0)
        {
            return TimeSpan.Zero;
        }

        var last = failedPods
            .Select(p => p.Status?.ContainerStatuses?.Select(c => c.State?.Terminated?.FinishedAt).Max() ?? p.Metadata.CreationTimestamp)
            .Max();
        if (last is null)
        {
            return TimeSpan.Zero;
        }

        var delay = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, BaseBackoff.Ticks * (1L << Math.Min(failures - 1, 20))));
        var left = last.Value.ToUniversalTime() + delay - now;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private async Task DeleteAllAsync(IEnumerable<V1Pod> pods, CancellationToken cancellationToken)
    {
        foreach (var pod in pods)
        {
            try
            {
                await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid }, cancellationToken).ConfigureAwait(false);
            }
            catch (NotFoundException)
            {
            }
        }
    }

    private static void SetCondition(List<V1JobCondition> conditions, string type, string reason, string message, DateTime now)
    {
        conditions.RemoveAll(c => c.Type == type);
        conditions.Add(new V1JobCondition { Type = type, Status = "True", Reason = reason, Message = message, LastProbeTime = now, LastTransitionTime = now });
    }

    private static bool Same(V1JobStatus? a, V1JobStatus b) =>
        a is not null && a.Active == b.Active && a.Ready == b.Ready && a.Succeeded == b.Succeeded && a.Failed == b.Failed
        && a.StartTime == b.StartTime && a.CompletionTime == b.CompletionTime
        && (a.Conditions?.Count ?? 0) == (b.Conditions?.Count ?? 0)
        && (a.Conditions ?? []).Zip(b.Conditions ?? []).All(p => p.First.Type == p.Second.Type && p.First.Status == p.Second.Status && p.First.Reason == p.Second.Reason);

    [LoggerMessage(EventId = 1470, Level = LogLevel.Information, Message = "Job {Key} failed: {Reason}")]
    private partial void LogJobFailed(ObjectKey key, string reason);

    [LoggerMessage(EventId = 1471, Level = LogLevel.Information, Message = "Job {Key} completed")]
    private partial void LogJobCompleted(ObjectKey key);
}
