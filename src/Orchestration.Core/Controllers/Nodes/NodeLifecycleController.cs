using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;

namespace Orchestration.Controllers.Nodes;

/// <summary>Timings of the node lifecycle controller.</summary>
public sealed class NodeLifecycleOptions
{
    /// <summary>How long a node's Lease may go unrenewed before the node is Unknown (kube-controller-manager's 40 s).</summary>
    public TimeSpan GracePeriod { get; set; } = TimeSpan.FromSeconds(40);

    /// <summary>How often each node is looked at.</summary>
    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Watches node heartbeats (their Leases in kube-node-lease): a node whose Lease is not renewed
/// within the grace period becomes Ready=Unknown and is tainted unreachable (NoSchedule and
/// NoExecute); its pods are evicted when their toleration of that taint runs out (at once without
/// one). A node that renews again is Ready and untainted. A node that renews but reports
/// Ready=False is tainted not-ready the same way, until it reports Ready. While no node at all is
/// Ready, nothing is evicted.
/// </summary>
public sealed partial class NodeLifecycleController(IClusterClient client, EventRecorder events, IOptions<NodeLifecycleOptions> options, TimeProvider timeProvider, ILogger<NodeLifecycleController> logger) : IController
{
    /// <summary>The taint of a node that stopped reporting.</summary>
    public const string UnreachableTaint = "node.kubernetes.io/unreachable";

    /// <summary>The taint of a node that reports in but is not ready.</summary>
    public const string NotReadyTaint = "node.kubernetes.io/not-ready";

    /// <summary>Registers the controller: nodes, and their leases.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Node>().Watches<V1Lease>(lease => lease.Metadata.NamespaceProperty == "kube-node-lease" ? [new ObjectKey(null, lease.Metadata.Name)] : []);
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        V1Node node;
        try
        {
            node = await client.GetAsync<V1Node>(null, key.Name, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            return ReconcileResult.Done;
        }

        var now = timeProvider.GetUtcNow().UtcDateTime;
        DateTime? renewed = null;
        try
        {
            renewed = (await client.GetAsync<V1Lease>("kube-node-lease", key.Name, cancellationToken).ConfigureAwait(false)).Spec?.RenewTime?.ToUniversalTime();
        }
        catch (NotFoundException)
        {
        }

        renewed ??= node.Metadata.CreationTimestamp?.ToUniversalTime();
        var stale = renewed is null || now - renewed.Value > options.Value.GracePeriod;
        var tainted = node.Spec?.Taints?.Any(t => t.Key == UnreachableTaint) == true;
        if (stale && !tainted)
        {
            await MarkAsync(node, unreachable: true, now, cancellationToken).ConfigureAwait(false);
            await events.RecordAsync(node, "Normal", "NodeNotReady", $"Node {key.Name} status is now: NodeNotReady", "node-controller", cancellationToken).ConfigureAwait(false);
            LogNodeUnreachable(key.Name);
            return await EvictAsync(node, UnreachableTaint, now, cancellationToken).ConfigureAwait(false);
        }

        if (!stale && tainted)
        {
            await MarkAsync(node, unreachable: false, now, cancellationToken).ConfigureAwait(false);
            LogLeaseRenewedAgain(key.Name);
            return ReconcileResult.After(options.Value.CheckInterval);
        }

        if (stale)
        {
            return await EvictAsync(node, UnreachableTaint, now, cancellationToken).ConfigureAwait(false);
        }

        // A node that reports in but says it is not ready (its runtime is down, its network not set
        // up) is tainted not-ready, as kube-controller-manager does, and its pods go when their
        // toleration of that runs out (300 s by default).
        var notReady = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status == "False";
        var notReadyTainted = node.Spec?.Taints?.Any(t => t.Key == NotReadyTaint) == true;
        if (notReady != notReadyTainted)
        {
            node.Spec ??= new V1NodeSpec();
            var taints = (node.Spec.Taints ?? []).Where(t => t.Key != NotReadyTaint).ToList();
            if (notReady)
            {
                taints.Add(new V1Taint { Key = NotReadyTaint, Effect = "NoSchedule", TimeAdded = now });
                taints.Add(new V1Taint { Key = NotReadyTaint, Effect = "NoExecute", TimeAdded = now });
            }

            node.Spec.Taints = taints;
            try
            {
                node = await client.UpdateAsync(node, cancellationToken).ConfigureAwait(false);
            }
            catch (ConflictException)
            {
                // The agent wrote its status meanwhile: look again with the newer node.
                return ReconcileResult.After(TimeSpan.FromMilliseconds(100));
            }

            if (notReady)
            {
                LogNotReadyTainted(key.Name);
            }
            else
            {
                LogNotReadyTaintRemoved(key.Name);
            }
        }

        return notReady
            ? await EvictAsync(node, NotReadyTaint, now, cancellationToken).ConfigureAwait(false)
            : ReconcileResult.After(options.Value.CheckInterval);
    }

    private async Task MarkAsync(V1Node node, bool unreachable, DateTime now, CancellationToken cancellationToken)
    {
        node.Spec ??= new V1NodeSpec();
        // Unreachable replaces not-ready, as in Kubernetes; a node back from unreachable is checked for readiness afresh.
        var taints = (node.Spec.Taints ?? []).Where(t => t.Key != UnreachableTaint && t.Key != NotReadyTaint).ToList();
        if (unreachable)
        {
            taints.Add(new V1Taint { Key = UnreachableTaint, Effect = "NoSchedule", TimeAdded = now });
            taints.Add(new V1Taint { Key = UnreachableTaint, Effect = "NoExecute", TimeAdded = now });
        }

        node.Spec.Taints = taints;
        node = await client.UpdateAsync(node, cancellationToken).ConfigureAwait(false);
        node.Status ??= new V1NodeStatus();
        node.Status.Conditions = (node.Status.Conditions ?? []).Where(c => c.Type != "Ready").Append(unreachable
            ? new V1NodeCondition { Type = "Ready", Status = "Unknown", Reason = "NodeStatusUnknown", Message = "Kubelet stopped posting node status.", LastTransitionTime = now, LastHeartbeatTime = now }
            : new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady", Message = "the node agent is posting ready status", LastTransitionTime = now, LastHeartbeatTime = now }).ToList();
        await client.UpdateStatusAsync(node, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes the node's pods whose toleration of its NoExecute taint <paramref name="key"/> has run out.</summary>
    private async Task<ReconcileResult> EvictAsync(V1Node node, string key, DateTime now, CancellationToken cancellationToken)
    {
        var taint = node.Spec?.Taints?.FirstOrDefault(t => t.Key == key && t.Effect == "NoExecute");
        if (taint is null)
        {
            return ReconcileResult.After(options.Value.CheckInterval);
        }

        // Full disruption, as kube-controller-manager calls it: when no node is Ready the fault is
        // more likely the cluster's (its network, the control plane's view) than the nodes', and
        // the evicted pods would have nowhere to go; so nothing is evicted until a node is Ready.
        var nodes = await client.ListAsync<V1Node>(null, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!nodes.Items.Any(n => n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true))
        {
            return ReconcileResult.After(options.Value.CheckInterval);
        }

        var since = taint.TimeAdded?.ToUniversalTime() ?? now;
        var pods = await client.ListAsync<V1Pod>(null, new ListOptions { FieldSelector = $"spec.nodeName={node.Metadata.Name}" }, cancellationToken).ConfigureAwait(false);
        foreach (var pod in pods.Items.Where(p => p.Metadata.DeletionTimestamp is null))
        {
            var toleration = pod.Spec?.Tolerations?.FirstOrDefault(t => Scheduling.Plugins.Tolerations.Tolerates(t, taint));
            var evict = toleration is null || (toleration.TolerationSeconds is { } seconds && now - since >= TimeSpan.FromSeconds(seconds));
            if (!evict)
            {
                continue;
            }

            try
            {
                await client.DeleteAsync<V1Pod>(pod.Metadata.NamespaceProperty, pod.Metadata.Name, new DeleteOptions { PreconditionUid = pod.Metadata.Uid }, cancellationToken).ConfigureAwait(false);
                await events.RecordAsync(pod, "Normal", "TaintManagerEviction", $"Marking for deletion Pod {pod.Metadata.NamespaceProperty}/{pod.Metadata.Name}", "taint-eviction-controller", cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NotFoundException or ConflictException)
            {
            }
        }

        return ReconcileResult.After(options.Value.CheckInterval);
    }

    [LoggerMessage(EventId = 1500, Level = LogLevel.Warning, Message = "Node {Node} stopped renewing its lease; it is unreachable")]
    private partial void LogNodeUnreachable(string node);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Node {Node} renews its lease again")]
    private partial void LogLeaseRenewedAgain(string node);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Information, Message = "Node {Node} reports NotReady; tainted not-ready")]
    private partial void LogNotReadyTainted(string node);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Information, Message = "Node {Node} reports Ready; the not-ready taint is removed")]
    private partial void LogNotReadyTaintRemoved(string node);
}
