using System.Globalization;
using System.Text.Json.Nodes;
using Orchestration.ApiServer.Handlers;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Tables;

/// <summary>The table columns of the built-in kinds, after the columns Kubernetes's printers define; each kind's are one <see cref="KindTableColumns"/> registration.</summary>
public static class KindColumns
{
    private static readonly TableColumn Name = new("Name", "string", "name", "Name must be unique within a namespace.", 0, (o, _) => Str(o, "metadata.name"));
    private static readonly TableColumn Age = new("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.", 0, (o, now) => HumanDuration.Since(Str(o, "metadata.creationTimestamp"), now));

    private static readonly IReadOnlyList<KindTableColumns> BuiltInColumns =
    [
        new("", "Pod", [Name, Col("Ready", PodReady), Col("Status", PodStatus), Col("Restarts", (o, _) => Restarts(o), "integer"), Age,
                Col("IP", (o, _) => Str(o, "status.podIP") ?? "<none>", priority: 1), Col("Node", (o, _) => Str(o, "spec.nodeName") ?? "<none>", priority: 1),
                Col("Nominated Node", (o, _) => Str(o, "status.nominatedNodeName") ?? "<none>", priority: 1), Col("Readiness Gates", (o, _) => ReadinessGates(o), priority: 1)]),
        new("", "Node", [Name, Col("Status", NodeStatus), Col("Roles", (o, _) => NodeRoles(o)), Age, Col("Version", (o, _) => Str(o, "status.nodeInfo.kubeletVersion") ?? ""),
                Col("Internal-IP", (o, _) => NodeAddress(o, "InternalIP"), priority: 1), Col("External-IP", (o, _) => NodeAddress(o, "ExternalIP"), priority: 1),
                Col("OS-Image", (o, _) => Str(o, "status.nodeInfo.osImage") ?? "<unknown>", priority: 1), Col("Kernel-Version", (o, _) => Str(o, "status.nodeInfo.kernelVersion") ?? "<unknown>", priority: 1),
                Col("Container-Runtime", (o, _) => Str(o, "status.nodeInfo.containerRuntimeVersion") ?? "<unknown>", priority: 1)]),
        new("", "Namespace", [Name, Col("Status", (o, _) => Str(o, "status.phase") ?? ""), Age]),
        new("", "Service", [Name, Col("Type", (o, _) => Str(o, "spec.type") ?? "ClusterIP"), Col("Cluster-IP", (o, _) => Str(o, "spec.clusterIP") ?? "<none>"),
                Col("External-IP", (o, _) => ExternalIps(o)), Col("Port(s)", (o, _) => ServicePorts(o)), Age,
                Col("Selector", (o, _) => MapString(o["spec"]?["selector"] as JsonObject) is { Length: > 0 } s ? s : "<none>", priority: 1)]),
        new("", "Endpoints", [Name, Col("Endpoints", (o, _) => EndpointsList(o)), Age]),
        new("", "ConfigMap", [Name, Col("Data", (o, _) => Count(o["data"]) + Count(o["binaryData"]), "integer"), Age]),
        new("", "Secret", [Name, Col("Type", (o, _) => Str(o, "type") ?? "Opaque"), Col("Data", (o, _) => Count(o["data"]), "integer"), Age]),
        new("", "ServiceAccount", [Name, Col("Secrets", (o, _) => Count(o["secrets"]), "integer"), Age]),
        new("", "Event", [Col("Last Seen", (o, now) => HumanDuration.Since(Str(o, "lastTimestamp") ?? Str(o, "eventTime") ?? Str(o, "metadata.creationTimestamp"), now)),
                Col("Type", (o, _) => Str(o, "type") ?? ""), Col("Reason", (o, _) => Str(o, "reason") ?? ""),
                Col("Object", (o, _) => $"{(Str(o, "involvedObject.kind") ?? "").ToLowerInvariant()}/{Str(o, "involvedObject.name")}"), Col("Message", (o, _) => (Str(o, "message") ?? "").Trim())]),
        new("events.k8s.io", "Event", [Col("Last Seen", (o, now) => HumanDuration.Since(Str(o, "deprecatedLastTimestamp") ?? Str(o, "eventTime") ?? Str(o, "metadata.creationTimestamp"), now)),
                Col("Type", (o, _) => Str(o, "type") ?? ""), Col("Reason", (o, _) => Str(o, "reason") ?? ""),
                Col("Object", (o, _) => $"{(Str(o, "regarding.kind") ?? "").ToLowerInvariant()}/{Str(o, "regarding.name")}"), Col("Message", (o, _) => (Str(o, "note") ?? "").Trim())]),
        new("coordination.k8s.io", "Lease", [Name, Col("Holder", (o, _) => Str(o, "spec.holderIdentity") ?? ""), Age]),
        new("discovery.k8s.io", "EndpointSlice", [Name, Col("AddressType", (o, _) => Str(o, "addressType") ?? ""), Col("Ports", (o, _) => SlicePorts(o)), Col("Endpoints", (o, _) => SliceEndpoints(o)), Age]),
        new("apps", "Deployment", [Name, Col("Ready", (o, _) => $"{Int(o, "status.readyReplicas")}/{Int(o, "spec.replicas")}"), Col("Up-to-date", (o, _) => Int(o, "status.updatedReplicas"), "integer"),
                Col("Available", (o, _) => Int(o, "status.availableReplicas"), "integer"), Age, .. Wide()]),
        new("apps", "ReplicaSet", [Name, Col("Desired", (o, _) => Int(o, "spec.replicas"), "integer"), Col("Current", (o, _) => Int(o, "status.replicas"), "integer"),
                Col("Ready", (o, _) => Int(o, "status.readyReplicas"), "integer"), Age, .. Wide()]),
        new("apps", "DaemonSet", [Name, Col("Desired", (o, _) => Int(o, "status.desiredNumberScheduled"), "integer"), Col("Current", (o, _) => Int(o, "status.currentNumberScheduled"), "integer"),
                Col("Ready", (o, _) => Int(o, "status.numberReady"), "integer"), Col("Up-to-date", (o, _) => Int(o, "status.updatedNumberScheduled"), "integer"),
                Col("Available", (o, _) => Int(o, "status.numberAvailable"), "integer"), Col("Node Selector", (o, _) => MapString(o["spec"]?["template"]?["spec"]?["nodeSelector"] as JsonObject) is { Length: > 0 } s ? s : "<none>"), Age, .. Wide()]),
        new("apps", "StatefulSet", [Name, Col("Ready", (o, _) => $"{Int(o, "status.readyReplicas")}/{Int(o, "spec.replicas")}"), Age, .. Wide(withSelector: false)]),
        new("batch", "Job", [Name, Col("Status", (o, _) => JobStatus(o)), Col("Completions", (o, _) => $"{Int(o, "status.succeeded")}/{(o["spec"]?["completions"] is { } c ? c.ToString() : "1")}"),
                Col("Duration", (o, now) => JobDuration(o, now)), Age, .. Wide()]),
        new("apiextensions.k8s.io", "CustomResourceDefinition", [Name, new("Created At", "date", "", "The time the definition was created.", 0, (o, _) => Str(o, "metadata.creationTimestamp"))]),
    ];

    /// <summary>The columns of the built-in kinds, after Kubernetes's printers.</summary>
    public static IReadOnlyList<KindTableColumns> BuiltIn() => BuiltInColumns;

    /// <summary>The columns of a kind none are registered for: a custom kind's CRD printer columns, else the name and age.</summary>
    public static IReadOnlyList<TableColumn> Fallback(ResourceKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        return kind.ClrType is null ? [Name, .. PrinterColumns(kind), Age] : [Name, Age];
    }

    /// <summary>The columns of a kind among the built-in ones, else its fallback.</summary>
    public static IReadOnlyList<TableColumn> For(ResourceKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        return BuiltIn().FirstOrDefault(c => c.Group == kind.Group && c.Kind == kind.Kind)?.Columns ?? Fallback(kind);
    }

    private static IEnumerable<TableColumn> PrinterColumns(ResourceKind kind) =>
        kind.PrinterColumns.Select(c => new TableColumn(c.Name, c.Type, "", c.Description ?? c.Name, c.Priority, (o, now) =>
        {
            var value = ResourceHandler.GetPath(o, c.JsonPath.TrimStart('.'));
            return c.Type == "date" && value is JsonValue v ? HumanDuration.Since(v.ToString(), now) : value?.DeepClone();
        }));

    private static TableColumn Col(string name, Func<JsonObject, DateTimeOffset, JsonNode?> cell, string type = "string", int priority = 0) =>
        new(name, type, "", name, priority, cell);

    private static TableColumn[] Wide(bool withSelector = true)
    {
        var columns = new List<TableColumn>
        {
            Col("Containers", (o, _) => string.Join(",", Containers(o).Select(c => c["name"]?.ToString())), priority: 1),
            Col("Images", (o, _) => string.Join(",", Containers(o).Select(c => c["image"]?.ToString())), priority: 1),
        };
        if (withSelector)
        {
            columns.Add(Col("Selector", (o, _) => LabelSelectors.ToString(o["spec"]?["selector"] as JsonObject) is { Length: > 0 } s ? s : "<none>", priority: 1));
        }

        return [.. columns];
    }

    private static IEnumerable<JsonObject> Containers(JsonObject o) => (o["spec"]?["template"]?["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>();

    internal static string? Str(JsonObject o, string path) => ResourceHandler.GetPath(o, path) is JsonValue v ? v.ToString() : null;

    private static long Int(JsonObject o, string path) => ResourceHandler.GetPath(o, path) is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0;

    private static int Count(JsonNode? node) => node switch
    {
        JsonObject o => o.Count,
        JsonArray a => a.Count,
        _ => 0,
    };

    private static string MapString(JsonObject? map) => map is null ? "" : string.Join(",", map.Select(p => $"{p.Key}={p.Value}"));

    /// <summary>READY: ready app containers and started, ready sidecars, of all of them, as Kubernetes's printer counts.</summary>
    private static JsonNode PodReady(JsonObject o, DateTimeOffset now)
    {
        var statuses = (o["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var sidecars = Sidecars(o);
        var total = ((o["spec"]?["containers"] as JsonArray)?.Count ?? 0) + sidecars.Count;
        var ready = statuses.Count(s => s["ready"]?.GetValue<bool>() == true)
            + (o["status"]?["initContainerStatuses"] as JsonArray ?? []).OfType<JsonObject>()
                .Count(s => sidecars.Contains(s["name"]?.ToString() ?? "") && s["started"]?.GetValue<bool>() == true && s["ready"]?.GetValue<bool>() == true);
        return $"{ready}/{total}";
    }

    /// <summary>The names of a pod's sidecars: init containers with restartPolicy Always.</summary>
    private static HashSet<string> Sidecars(JsonObject o) =>
        (o["spec"]?["initContainers"] as JsonArray ?? []).OfType<JsonObject>()
            .Where(c => c["restartPolicy"]?.ToString() == "Always")
            .Select(c => c["name"]?.ToString() ?? "")
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The STATUS column as Kubernetes's pod printer derives it: the first init container that has not
    /// completed decides while the pod initializes (Init:N/M, Init:Error, Init:CrashLoopBackOff), then
    /// the last app container's waiting or terminated reason, then Terminating for a deleted pod.
    /// </summary>
    private static JsonNode PodStatus(JsonObject o, DateTimeOffset now)
    {
        var reason = Str(o, "status.reason") ?? Str(o, "status.phase") ?? "Unknown";
        var inits = (o["status"]?["initContainerStatuses"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var initCount = (o["spec"]?["initContainers"] as JsonArray)?.Count ?? inits.Count;
        var initializing = false;
        var sidecars = Sidecars(o);
        for (var i = 0; i < inits.Count; i++)
        {
            var state = inits[i]["state"];
            if (sidecars.Contains(inits[i]["name"]?.ToString() ?? "") && inits[i]["started"] is JsonValue started && started.TryGetValue<bool>(out var isStarted) && isStarted)
            {
                continue;
            }

            if (state?["terminated"] is JsonObject done)
            {
                if (Int(done, "exitCode") == 0)
                {
                    continue;
                }

                reason = done["reason"]?.ToString() is { Length: > 0 } why ? $"Init:{why}" : Int(done, "signal") is not 0 and var signal ? $"Init:Signal:{signal}" : $"Init:ExitCode:{Int(done, "exitCode")}";
            }
            else if (state?["waiting"]?["reason"]?.ToString() is { Length: > 0 } waiting && waiting != "PodInitializing")
            {
                reason = $"Init:{waiting}";
            }
            else
            {
                reason = $"Init:{i}/{initCount}";
            }

            initializing = true;
            break;
        }

        if (!initializing || PodCondition(o, "Initialized"))
        {
            var running = false;
            foreach (var status in (o["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>().Reverse())
            {
                if (status["state"]?["waiting"]?["reason"]?.ToString() is { Length: > 0 } waiting)
                {
                    reason = waiting;
                }
                else if (status["state"]?["terminated"] is JsonObject terminated)
                {
                    reason = terminated["reason"]?.ToString() is { Length: > 0 } why ? why : Int(terminated, "signal") is not 0 and var signal ? $"Signal:{signal}" : $"ExitCode:{Int(terminated, "exitCode")}";
                }
                else if (status["ready"] is JsonValue ready && ready.TryGetValue<bool>(out var isReady) && isReady && status["state"]?["running"] is not null)
                {
                    running = true;
                }
            }

            // One container completed while another still runs: the pod is not Completed.
            if (reason == "Completed" && running)
            {
                reason = PodCondition(o, "Ready") ? "Running" : "NotReady";
            }
        }

        if (o["metadata"]?["deletionTimestamp"] is not null)
        {
            reason = Str(o, "status.reason") == "NodeLost" ? "Unknown" : "Terminating";
        }

        return reason;
    }

    private static bool PodCondition(JsonObject o, string type) =>
        (o["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().Any(c => c["type"]?.ToString() == type && c["status"]?.ToString() == "True");

    /// <summary>RESTARTS: the init containers' while the pod initializes, the app containers' and the sidecars' after.</summary>
    private static long Restarts(JsonObject o)
    {
        static long Sum(IEnumerable<JsonObject> statuses) =>
            statuses.Sum(s => s["restartCount"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : 0);

        var inits = (o["status"]?["initContainerStatuses"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var apps = (o["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>();
        var initializing = !PodCondition(o, "Initialized") && inits.Any(s => s["state"]?["terminated"]?["exitCode"]?.ToString() != "0");
        if (initializing)
        {
            return Sum(inits);
        }

        var sidecars = Sidecars(o);
        return Sum(apps) + Sum(inits.Where(s => sidecars.Contains(s["name"]?.ToString() ?? "")));
    }

    private static string ReadinessGates(JsonObject o)
    {
        var gates = (o["spec"]?["readinessGates"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        if (gates.Count == 0)
        {
            return "<none>";
        }

        var conditions = (o["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>();
        var ready = gates.Count(g => conditions.Any(c => c["type"]?.ToString() == g["conditionType"]?.ToString() && c["status"]?.ToString() == "True"));
        return $"{ready}/{gates.Count}";
    }

    private static JsonNode NodeStatus(JsonObject o, DateTimeOffset now)
    {
        var ready = (o["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => c["type"]?.ToString() == "Ready");
        // As kubectl prints it: a Ready condition that is not True (False or Unknown) is NotReady.
        var status = ready is null ? "Unknown" : ready["status"]?.ToString() == "True" ? "Ready" : "NotReady";
        return o["spec"]?["unschedulable"]?.GetValue<bool>() == true ? $"{status},SchedulingDisabled" : status;
    }

    private static string NodeRoles(JsonObject o)
    {
        var roles = (o["metadata"]?["labels"] as JsonObject ?? [])
            .Select(p => p.Key)
            .Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal))
            .Select(k => k["node-role.kubernetes.io/".Length..])
            .ToList();
        return roles.Count == 0 ? "<none>" : string.Join(",", roles);
    }

    private static string NodeAddress(JsonObject o, string type) =>
        (o["status"]?["addresses"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(a => a["type"]?.ToString() == type)?["address"]?.ToString() ?? "<none>";

    private static string ExternalIps(JsonObject o)
    {
        var ips = (o["spec"]?["externalIPs"] as JsonArray ?? []).Select(i => i?.ToString()).ToList();
        ips.AddRange((o["status"]?["loadBalancer"]?["ingress"] as JsonArray ?? []).OfType<JsonObject>().Select(i => i["ip"]?.ToString() ?? i["hostname"]?.ToString()));
        if (ips.Count > 0)
        {
            return string.Join(",", ips);
        }

        return Str(o, "spec.type") switch
        {
            "ExternalName" => Str(o, "spec.externalName") ?? "<none>",
            "LoadBalancer" => "<pending>",
            _ => "<none>",
        };
    }

    private static string ServicePorts(JsonObject o)
    {
        var ports = (o["spec"]?["ports"] as JsonArray ?? []).OfType<JsonObject>()
            .Select(p => p["nodePort"] is { } node ? $"{p["port"]}:{node}/{p["protocol"] ?? "TCP"}" : $"{p["port"]}/{p["protocol"] ?? "TCP"}")
            .ToList();
        return ports.Count == 0 ? "<none>" : string.Join(",", ports);
    }

    private static string EndpointsList(JsonObject o)
    {
        var endpoints = new List<string>();
        foreach (var subset in (o["subsets"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var ports = (subset["ports"] as JsonArray ?? []).OfType<JsonObject>().Select(p => p["port"]?.ToString()).ToList();
            foreach (var address in (subset["addresses"] as JsonArray ?? []).OfType<JsonObject>())
            {
                endpoints.AddRange(ports.Count == 0 ? [address["ip"]?.ToString()!] : ports.Select(p => $"{address["ip"]}:{p}"));
            }
        }

        return Abbreviate(endpoints);
    }

    private static string SlicePorts(JsonObject o)
    {
        var ports = (o["ports"] as JsonArray ?? []).OfType<JsonObject>().Select(p => p["port"]?.ToString()).ToList();
        return ports.Count == 0 ? "<unset>" : string.Join(",", ports);
    }

    private static string SliceEndpoints(JsonObject o) =>
        Abbreviate((o["endpoints"] as JsonArray ?? []).OfType<JsonObject>().SelectMany(e => (e["addresses"] as JsonArray ?? []).Select(a => a?.ToString()!)).ToList());

    private static string Abbreviate(List<string> items)
    {
        if (items.Count == 0)
        {
            return "<none>";
        }

        return items.Count <= 3 ? string.Join(",", items) : $"{string.Join(",", items.Take(3))} + {items.Count - 3} more...";
    }

    private static string JobStatus(JsonObject o)
    {
        var conditions = (o["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().Where(c => c["status"]?.ToString() == "True").Select(c => c["type"]?.ToString()).ToList();
        if (conditions.Contains("Complete"))
        {
            return "Complete";
        }

        if (conditions.Contains("Failed"))
        {
            return "Failed";
        }

        return o["spec"]?["suspend"]?.GetValue<bool>() == true ? "Suspended" : "Running";
    }

    private static string JobDuration(JsonObject o, DateTimeOffset now)
    {
        if (!DateTimeOffset.TryParse(Str(o, "status.startTime"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var start))
        {
            return "";
        }

        var end = DateTimeOffset.TryParse(Str(o, "status.completionTime"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var done) ? done : now;
        return HumanDuration.Format(end - start);
    }
}
