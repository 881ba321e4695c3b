using System.Text.Json.Nodes;
using k8s.Models;

namespace Orchestration.Resources.Strategies;

/// <summary>
/// Jobs: parallelism 1 (and then one completion), six retries, NonIndexed, not suspended; a new
/// Job selects its pods by its own uid; a restart policy of OnFailure or Never; selectable by
/// <c>status.successful</c>.
/// </summary>
public sealed class JobStrategy() : ResourceStrategy("batch", "Job", "status.successful")
{
    /// <inheritdoc />
    public override void Default(JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var spec = obj["spec"] as JsonObject;
        if (spec is not null)
        {
            spec["parallelism"] ??= 1;
            if (spec["completions"] is null && spec["parallelism"] is JsonValue parallelism && parallelism.TryGetInt(out var p) && p == 1)
            {
                spec["completions"] = 1;
            }

            spec["backoffLimit"] ??= 6;
            spec["completionMode"] ??= "NonIndexed";
            spec["suspend"] ??= false;
        }

        ObjectDefaults.PodSpec(ObjectDefaults.TemplateSpec(spec), defaultRestartPolicy: false);
    }

    /// <inheritdoc />
    public override void PrepareForCreate(ResourceKind kind, JsonObject obj, string name, string uid)
    {
        base.PrepareForCreate(kind, obj, name, uid);
        ObjectDefaults.JobSelector(obj, name, uid);
    }

    /// <inheritdoc />
    public override void Validate(ResourceKind kind, JsonObject obj, JsonObject? old, ICollection<V1StatusCause> causes)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ObjectValidation.CheckJob(obj["spec"] as JsonObject, causes);
    }
}
