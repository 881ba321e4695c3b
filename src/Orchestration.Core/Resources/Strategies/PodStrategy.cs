using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>Pods: the pod spec's defaults and the not-ready/unreachable tolerations of a new pod, phase Pending until a node reports, a valid pod spec.</summary>
public sealed class PodStrategy() : ResourceStrategy("", "Pod", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var spec = obj["spec"] as JsonObject;
        ObjectDefaults.PodSpec(spec);
        ObjectDefaults.DefaultTolerations(spec, obj);
        if (obj["status"] is null)
        {
            obj["status"] = new JsonObject { ["phase"] = "Pending" };
        }
    }

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ObjectValidation.CheckPodSpec(obj["spec"] as JsonObject, "spec", causes);
    }
}
