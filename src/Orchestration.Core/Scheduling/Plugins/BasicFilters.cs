using k8s.Models;

namespace Orchestration.Scheduling.Plugins;

/// <summary>NodeName: a pod that names its node fits only there.</summary>
public sealed class NodeNamePlugin : IFilterPlugin
{
    /// <inheritdoc />
    public string Name => "NodeName";

    /// <inheritdoc />
    public FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node) =>
        pod.NodeName is null || pod.NodeName == node.Name ? FilterResult.Fits : FilterResult.UnschedulableAndUnresolvable("node(s) didn't match the requested node name");
}

/// <summary>NodeUnschedulable: a cordoned node takes only pods that tolerate it.</summary>
public sealed class NodeUnschedulablePlugin : IFilterPlugin
{
    private static readonly V1Taint Cordon = new() { Key = "node.kubernetes.io/unschedulable", Effect = "NoSchedule" };

    /// <inheritdoc />
    public string Name => "NodeUnschedulable";

    /// <inheritdoc />
    public FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node) =>
        !node.Unschedulable || pod.Tolerations.Any(t => Tolerations.Tolerates(t, Cordon)) ? FilterResult.Fits : FilterResult.UnschedulableAndUnresolvable("node(s) were unschedulable");
}

/// <summary>NodePorts: host ports a pod binds must be free on the node.</summary>
public sealed class NodePortsPlugin : IFilterPlugin
{
    /// <inheritdoc />
    public string Name => "NodePorts";

    /// <inheritdoc />
    public FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node) =>
        pod.HostPorts.Any(node.UsesPort) ? FilterResult.Unschedulable("node(s) didn't have free ports for the requested pod ports") : FilterResult.Fits;
}

/// <summary>TaintToleration: NoSchedule and NoExecute taints must be tolerated; fewer untolerated PreferNoSchedule taints score higher.</summary>
public sealed class TaintTolerationPlugin : IFilterPlugin, IScorePlugin
{
    /// <inheritdoc />
    public string Name => "TaintToleration";

    /// <inheritdoc />
    public int Weight => 3;

    /// <inheritdoc />
    public FilterResult Filter(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        foreach (var taint in node.Taints)
        {
            if (taint.Effect is "NoSchedule" or "NoExecute" && !pod.Tolerations.Any(t => Tolerations.Tolerates(t, taint)))
            {
                return FilterResult.UnschedulableAndUnresolvable($"node(s) had untolerated taint {{{taint.Key}: {taint.Value}}}");
            }
        }

        return FilterResult.Fits;
    }

    /// <inheritdoc />
    public long Score(SchedulingCycle cycle, SchedulingPod pod, SchedulingNode node)
    {
        var untolerated = node.Taints.Count(t => t.Effect == "PreferNoSchedule" && !pod.Tolerations.Any(x => Tolerations.Tolerates(x, t)));
        return Math.Max(0, 100 - (untolerated * 20));
    }
}

/// <summary>Kubernetes's rule for whether a toleration tolerates a taint.</summary>
public static class Tolerations
{
    /// <summary>Whether <paramref name="toleration"/> tolerates <paramref name="taint"/>.</summary>
    public static bool Tolerates(V1Toleration toleration, V1Taint taint)
    {
        ArgumentNullException.ThrowIfNull(toleration);
        ArgumentNullException.ThrowIfNull(taint);
        if (!string.IsNullOrEmpty(toleration.Effect) && toleration.Effect != taint.Effect)
        {
            return false;
        }

        if (string.IsNullOrEmpty(toleration.Key))
        {
            return toleration.OperatorProperty == "Exists";
        }

        return toleration.Key == taint.Key && (toleration.OperatorProperty == "Exists" || (toleration.Value ?? "") == (taint.Value ?? ""));
    }
}
