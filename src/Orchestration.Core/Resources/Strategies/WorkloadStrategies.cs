using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>What the workloads of apps/v1 share: a selector that matches the template's labels, and a valid pod template with its defaults.</summary>
public abstract class WorkloadStrategy(string kind, params string[] selectableFields) : ResourceStrategy("apps", kind, selectableFields)
{
    /// <inheritdoc />
    public override void Default(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var spec = obj["spec"] as JsonObject;
        DefaultSpec(spec);
        ObjectDefaults.PodSpec(ObjectDefaults.TemplateSpec(spec));
    }

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ObjectValidation.CheckWorkload(obj["spec"] as JsonObject, causes, requireSelector: true);
    }

    /// <summary>The kind's own spec defaults (the pod template's are added after).</summary>
    protected abstract void DefaultSpec(JsonObject? spec);
}

/// <summary>Deployments: one replica, ten revisions kept, a 600 s progress deadline, RollingUpdate with 25% surge and unavailable.</summary>
public sealed class DeploymentStrategy() : WorkloadStrategy("Deployment")
{
    /// <inheritdoc />
    protected override void DefaultSpec(JsonObject? spec)
    {
        ObjectDefaults.Set(spec, "replicas", 1);
        ObjectDefaults.Set(spec, "revisionHistoryLimit", 10);
        ObjectDefaults.Set(spec, "progressDeadlineSeconds", 600);
        if (spec is not null)
        {
            var strategy = spec["strategy"] as JsonObject ?? [];
            spec["strategy"] = strategy;
            strategy["type"] ??= "RollingUpdate";
            if (strategy["type"]?.ToString() == "RollingUpdate")
            {
                var rolling = strategy["rollingUpdate"] as JsonObject ?? [];
                strategy["rollingUpdate"] = rolling;
                rolling["maxUnavailable"] ??= "25%";
                rolling["maxSurge"] ??= "25%";
            }
        }
    }
}

/// <summary>ReplicaSets: one replica; selectable by <c>status.replicas</c>.</summary>
public sealed class ReplicaSetStrategy() : WorkloadStrategy("ReplicaSet", "status.replicas")
{
    /// <inheritdoc />
    protected override void DefaultSpec(JsonObject? spec) => ObjectDefaults.Set(spec, "replicas", 1);
}

/// <summary>StatefulSets: one replica, ten revisions, OrderedReady, RollingUpdate from partition 0.</summary>
public sealed class StatefulSetStrategy() : WorkloadStrategy("StatefulSet")
{
    /// <inheritdoc />
    protected override void DefaultSpec(JsonObject? spec)
    {
        ObjectDefaults.Set(spec, "replicas", 1);
        ObjectDefaults.Set(spec, "revisionHistoryLimit", 10);
        ObjectDefaults.Set(spec, "podManagementPolicy", "OrderedReady");
        if (spec is not null && spec["updateStrategy"] is null)
        {
            spec["updateStrategy"] = new JsonObject { ["type"] = "RollingUpdate", ["rollingUpdate"] = new JsonObject { ["partition"] = 0 } };
        }
    }
}

/// <summary>DaemonSets: ten revisions, RollingUpdate one node at a time.</summary>
public sealed class DaemonSetStrategy() : WorkloadStrategy("DaemonSet")
{
    /// <inheritdoc />
    protected override void DefaultSpec(JsonObject? spec)
    {
        ObjectDefaults.Set(spec, "revisionHistoryLimit", 10);
        if (spec is not null && spec["updateStrategy"] is null)
        {
            spec["updateStrategy"] = new JsonObject { ["type"] = "RollingUpdate", ["rollingUpdate"] = new JsonObject { ["maxUnavailable"] = 1, ["maxSurge"] = 0 } };
        }
    }
}
