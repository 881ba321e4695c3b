using System.Text.Json.Nodes;

namespace Orchestration.Resources.Strategies;

/// <summary>
/// Kubernetes's defaults for fields a manifest leaves out, shared by the kinds' strategies, so that
/// what is stored reads the same as on any cluster (a Deployment's strategy, a container's pull
/// policy, a Service port's protocol).
/// </summary>
internal static class ObjectDefaults
{
    /// <summary>
    /// A new Job without <c>manualSelector</c> selects its pods by its own uid: the selector and the
    /// template's labels are generated (<c>batch.kubernetes.io/controller-uid</c> and
    /// <c>job-name</c>, in their current and legacy spellings), so two Jobs never claim each other's pods.
    /// </summary>
    public static void JobSelector(JsonObject obj, string name, string uid)
    {
        if (obj["spec"] is not JsonObject spec || spec["manualSelector"]?.GetValue<bool>() == true)
        {
            return;
        }

        var template = spec["template"] as JsonObject ?? [];
        spec["template"] = template;
        var meta = template["metadata"] as JsonObject ?? [];
        template["metadata"] = meta;
        var labels = meta["labels"] as JsonObject ?? [];
        meta["labels"] = labels;
        labels["batch.kubernetes.io/controller-uid"] = uid;
        labels["batch.kubernetes.io/job-name"] = name;
        labels["controller-uid"] = uid;
        labels["job-name"] = name;
        spec["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["batch.kubernetes.io/controller-uid"] = uid } };
    }

    /// <summary>
    /// The DefaultTolerationSeconds admission: a new pod tolerates a not-ready or unreachable node
    /// for 300 s unless it says otherwise, so a brief outage does not evict it at once.
    /// </summary>
    public static void DefaultTolerations(JsonObject? spec, JsonObject obj)
    {
        if (spec is null || (obj["metadata"] as JsonObject)?["resourceVersion"] is not null)
        {
            return;
        }

        var tolerations = spec["tolerations"] as JsonArray ?? [];
        foreach (var key in new[] { "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable" })
        {
            if (!tolerations.OfType<JsonObject>().Any(t => t["key"]?.ToString() == key && (t["effect"]?.ToString() is null or "NoExecute")))
            {
                tolerations.Add(new JsonObject { ["key"] = key, ["operator"] = "Exists", ["effect"] = "NoExecute", ["tolerationSeconds"] = 300 });
            }
        }

        spec["tolerations"] = tolerations;
    }

    public static JsonObject? TemplateSpec(JsonObject? spec) => (spec?["template"] as JsonObject)?["spec"] as JsonObject;

    public static void Set(JsonObject? obj, string field, JsonNode value)
    {
        if (obj is not null)
        {
            obj[field] ??= value;
        }
    }

    public static void PodSpec(JsonObject? spec, bool defaultRestartPolicy = true)
    {
        if (spec is null)
        {
            return;
        }

        if (defaultRestartPolicy)
        {
            spec["restartPolicy"] ??= "Always";
        }

        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["securityContext"] ??= new JsonObject();
        foreach (var list in new[] { "containers", "initContainers" })
        {
            foreach (var container in (spec[list] as JsonArray ?? []).OfType<JsonObject>())
            {
                var image = container["image"]?.ToString() ?? "";
                var lastSegment = image[(image.LastIndexOf('/') + 1)..];
                var tagged = lastSegment.Contains(':') && !lastSegment.EndsWith(":latest", StringComparison.Ordinal);
                container["imagePullPolicy"] ??= tagged || image.Contains('@') ? "IfNotPresent" : "Always";
                container["terminationMessagePath"] ??= "/dev/termination-log";
                container["terminationMessagePolicy"] ??= "File";
                foreach (var port in (container["ports"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    port["protocol"] ??= "TCP";
                }
            }
        }
    }

    public static void Service(JsonObject? spec)
    {
        if (spec is null)
        {
            return;
        }

        spec["type"] ??= "ClusterIP";
        spec["sessionAffinity"] ??= "None";
        if (spec["type"]?.ToString() != "ExternalName")
        {
            spec["internalTrafficPolicy"] ??= "Cluster";
        }

        foreach (var port in (spec["ports"] as JsonArray ?? []).OfType<JsonObject>())
        {
            port["protocol"] ??= "TCP";
            if (port["targetPort"] is null && port["port"] is { } number)
            {
                port["targetPort"] = number.DeepClone();
            }
        }
    }
}
