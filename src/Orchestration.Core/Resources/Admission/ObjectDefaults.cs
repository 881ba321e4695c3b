using System.Text.Json.Nodes;

namespace Orchestration.Resources;

/// <summary>
/// Kubernetes's defaults for fields a manifest leaves out, filled in on every write so that what
/// is stored reads the same as on any cluster (a Deployment's strategy, a container's pull policy,
/// a Service port's protocol).
/// </summary>
public static class ObjectDefaults
{
    /// <summary>Fills in the defaults of the object's kind.</summary>
    public static void Apply(ResourceKind kind, JsonObject obj)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        var spec = obj["spec"] as JsonObject;
        if (obj["metadata"] is not (null or JsonObject))
        {
            // Left for validation to refuse with a clear message.
            return;
        }

        switch (kind.Group, kind.Kind)
        {
            case ("", "Pod"):
                PodSpec(spec);
                DefaultTolerations(spec, obj);
                if (obj["status"] is null)
                {
                    obj["status"] = new JsonObject { ["phase"] = "Pending" };
                }

                break;
            case ("", "Namespace"):
                if ((obj["status"] as JsonObject)?["phase"] is null)
                {
                    obj["status"] = new JsonObject { ["phase"] = "Active" };
                }

                if ((obj["metadata"] as JsonObject)?["deletionTimestamp"] is null && (obj["metadata"] as JsonObject)?["resourceVersion"] is null)
                {
                    // On create: the namespace controller empties a namespace before it goes.
                    var nsSpec = obj["spec"] as JsonObject ?? [];
                    obj["spec"] = nsSpec;
                    nsSpec["finalizers"] ??= new JsonArray("kubernetes");
                }

                break;
            case ("", "Service"):
                Service(spec);
                break;
            case ("", "Secret"):
                obj["type"] ??= "Opaque";
                if (obj["stringData"] is JsonObject stringData)
                {
                    // As Kubernetes does: stringData is a write-only convenience, merged into data.
                    var data = obj["data"] as JsonObject ?? [];
                    obj["data"] = data;
                    foreach (var (key, value) in stringData)
                    {
                        data[key] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value?.ToString() ?? ""));
                    }

                    obj.Remove("stringData");
                }

                break;
            case ("apps", "Deployment"):
                Set(spec, "replicas", 1);
                Set(spec, "revisionHistoryLimit", 10);
                Set(spec, "progressDeadlineSeconds", 600);
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

                PodSpec(TemplateSpec(spec));
                break;
            case ("apps", "ReplicaSet"):
                Set(spec, "replicas", 1);
                PodSpec(TemplateSpec(spec));
                break;
            case ("apps", "StatefulSet"):
                Set(spec, "replicas", 1);
                Set(spec, "revisionHistoryLimit", 10);
                Set(spec, "podManagementPolicy", "OrderedReady");
                if (spec is not null && spec["updateStrategy"] is null)
                {
                    spec["updateStrategy"] = new JsonObject { ["type"] = "RollingUpdate", ["rollingUpdate"] = new JsonObject { ["partition"] = 0 } };
                }

                PodSpec(TemplateSpec(spec));
                break;
            case ("apps", "DaemonSet"):
                Set(spec, "revisionHistoryLimit", 10);
                if (spec is not null && spec["updateStrategy"] is null)
                {
                    spec["updateStrategy"] = new JsonObject { ["type"] = "RollingUpdate", ["rollingUpdate"] = new JsonObject { ["maxUnavailable"] = 1, ["maxSurge"] = 0 } };
                }

                PodSpec(TemplateSpec(spec));
                break;
            case ("batch", "Job"):
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

                PodSpec(TemplateSpec(spec), defaultRestartPolicy: false);
                break;
            case ("apiextensions.k8s.io", "CustomResourceDefinition"):
                if (spec is not null && spec["conversion"] is null)
                {
                    spec["conversion"] = new JsonObject { ["strategy"] = "None" };
                }

                if (obj["metadata"] is JsonObject crdMeta && crdMeta["resourceVersion"] is null && crdMeta["deletionTimestamp"] is null)
                {
                    // On create: the definition stays until its objects are deleted.
                    var finalizers = crdMeta["finalizers"] as JsonArray ?? [];
                    crdMeta["finalizers"] = finalizers;
                    if (!finalizers.Any(f => f?.ToString() == CustomResourceDefinitions.CleanupFinalizer))
                    {
                        finalizers.Add(CustomResourceDefinitions.CleanupFinalizer);
                    }
                }

                break;
        }
    }

    /// <summary>
    /// A new Job without <c>manualSelector</c> selects its pods by its own uid: the selector and the
    /// template's labels are generated (<c>batch.kubernetes.io/controller-uid</c> and
    /// <c>job-name</c>, in their current and legacy spellings), so two Jobs never claim each other's pods.
    /// </summary>
    public static void JobSelector(ResourceKind kind, JsonObject obj, string name, string uid)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        if ((kind.Group, kind.Kind) != ("batch", "Job") || obj["spec"] is not JsonObject spec || spec["manualSelector"]?.GetValue<bool>() == true)
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
    private static void DefaultTolerations(JsonObject? spec, JsonObject obj)
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

    private static JsonObject? TemplateSpec(JsonObject? spec) => (spec?["template"] as JsonObject)?["spec"] as JsonObject;

    private static void Set(JsonObject? obj, string field, JsonNode value)
    {
        if (obj is not null)
        {
            obj[field] ??= value;
        }
    }

    private static void PodSpec(JsonObject? spec, bool defaultRestartPolicy = true)
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

    private static void Service(JsonObject? spec)
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
