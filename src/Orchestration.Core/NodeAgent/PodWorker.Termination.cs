using System.Globalization;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

// Stopping: containers whose liveness probe failed, and a deleted or finished pod's containers and sandbox within its grace period.
internal sealed partial class PodWorker
{
    /// <summary>Kills the containers whose liveness or startup probe failed; the restart policy then decides whether they run again.</summary>
    private async Task<bool> KillUnhealthyAsync(PodRecord record, V1Pod pod, IReadOnlyList<ContainerStatus> containers, CancellationToken cancellationToken)
    {
        var killed = false;
        foreach (var (containerId, message, grace) in record.TakeKills())
        {
            var container = containers.FirstOrDefault(c => c.Id == containerId && c.State == ContainerState.Running);
            if (container is null)
            {
                continue;
            }

            events.Post(pod, Normal, "Killing", message);
            // A probe may give its own, shorter grace (probe-level terminationGracePeriodSeconds).
            await runtime.StopContainerAsync(containerId, grace ?? GraceOf(pod), cancellationToken).ConfigureAwait(false);
            killed = true;
        }

        return killed;
    }

    /// <summary>
    /// A pod marked for deletion: its containers get its grace period to stop, its last status is
    /// written, and the pod object is deleted for good (uid precondition, no further grace), as kubelet
    /// does, so a waiting <c>kubectl delete</c> returns.
    /// </summary>
    private async Task TerminateAsync(PodRecord record, V1Pod pod, List<PodSandbox> sandboxes, CancellationToken cancellationToken)
    {
        var grace = pod.Metadata.DeletionGracePeriodSeconds is { } seconds && seconds > 0 ? TimeSpan.FromSeconds(seconds) : GraceOf(pod);
        foreach (var sandbox in sandboxes)
        {
            await StopSandboxAsync(sandbox.Id, grace, pod, cancellationToken).ConfigureAwait(false);
        }

        if (sandboxes.FirstOrDefault() is { } last && pod.Status?.Phase is not ("Succeeded" or "Failed"))
        {
            var containers = await runtime.ListContainersAsync(last.Id, cancellationToken).ConfigureAwait(false);
            await ReportAsync(pod, PodStatusBuilder.Build(pod, record, last.Ip, containers, _runtimeName, time.GetUtcNow(), final: true), cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid, GracePeriodSeconds = 0 }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NotFoundException or ConflictException)
        {
            // Gone already, or a new pod of the same name: nothing of this one is left to delete.
        }
    }

    /// <summary>Stops a sandbox's running containers within <paramref name="grace"/> (Killing events when <paramref name="pod"/> is known), then the sandbox.</summary>
    private async Task StopSandboxAsync(string sandboxId, TimeSpan? grace, V1Pod? pod, CancellationToken cancellationToken)
    {
        var containers = await runtime.ListContainersAsync(sandboxId, cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(containers.Where(c => c.State == ContainerState.Running).Select(async c =>
        {
            if (pod is not null)
            {
                events.Post(pod, Normal, "Killing", $"Stopping container {c.Name}");
            }

            await runtime.StopContainerAsync(c.Id, grace ?? LabelledGrace(c), cancellationToken).ConfigureAwait(false);
        })).ConfigureAwait(false);
        await runtime.StopPodSandboxAsync(sandboxId, cancellationToken).ConfigureAwait(false);
    }

    private static TimeSpan GraceOf(V1Pod? pod) => TimeSpan.FromSeconds(pod?.Spec?.TerminationGracePeriodSeconds ?? 30);

    /// <summary>The grace period a container was created with (its <see cref="GraceLabel"/>), or the default 30 s for one without.</summary>
    private static TimeSpan LabelledGrace(ContainerStatus container) =>
        container.Labels?.TryGetValue(GraceLabel, out var text) == true && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(30);
}
