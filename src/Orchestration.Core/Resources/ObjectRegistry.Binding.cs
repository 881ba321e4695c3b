using System.Text.Json.Nodes;
using Orchestration.Client;

namespace Orchestration.Resources;

public sealed partial class ObjectRegistry
{
    /// <summary>
    /// Binds a pod to a node (the pods/binding subresource): sets spec.nodeName once (a pod already
    /// bound is a 409) and marks the PodScheduled condition.
    /// </summary>
    public async Task BindPodAsync(string? @namespace, string name, string nodeName, WriteOptions? options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeName);
        var pods = Kinds.Find("", "pods") ?? throw new InvalidOperationException("pods are not a served kind");
        await MutateAsync(
            pods,
            @namespace,
            name,
            pod =>
            {
                var spec = pod["spec"] as JsonObject ?? [];
                pod["spec"] = spec;
                if (spec["nodeName"]?.ToString() is { Length: > 0 } bound)
                {
                    throw new ConflictException(pods.Group, pods.Plural, name, $"pod {name} is already assigned to node \"{bound}\"");
                }

                spec["nodeName"] = nodeName;
                return pod;
            },
            statusOnly: false,
            options,
            cancellationToken).ConfigureAwait(false);
        if (options?.DryRun != true)
        {
            // The condition lives in the status subresource: a second write.
            await MutateAsync(pods, @namespace, name, pod => WithCondition(pod, "PodScheduled", "True", null, null), statusOnly: true, options, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The object with one status condition set (replacing one of the same type).</summary>
    internal JsonObject WithCondition(JsonObject obj, string type, string status, string? reason, string? message)
    {
        var objectStatus = obj["status"] as JsonObject ?? [];
        obj["status"] = objectStatus;
        var conditions = objectStatus["conditions"] as JsonArray ?? [];
        objectStatus["conditions"] = conditions;
        foreach (var existing in conditions.OfType<JsonObject>().Where(c => c["type"]?.ToString() == type).ToList())
        {
            conditions.Remove(existing);
        }

        var condition = new JsonObject { ["type"] = type, ["status"] = status, ["lastTransitionTime"] = FormatTime(timeProvider.GetUtcNow()) };
        if (reason is not null)
        {
            condition["reason"] = reason;
        }

        if (message is not null)
        {
            condition["message"] = message;
        }

        conditions.Add(condition);
        return obj;
    }
}
