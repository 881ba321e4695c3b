using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// Pod Security admission, enforce mode: a pod created in a namespace labelled
/// <c>pod-security.kubernetes.io/enforce: baseline</c> or <c>restricted</c> is refused (403) when it
/// breaks that level of the Pod Security Standards, with kube-apiserver's message
/// (<c>violates PodSecurity "restricted:latest": privileged (container "c" must not set
/// securityContext.privileged=true), ...</c>). Baseline forbids host namespaces, privileged
/// containers, capabilities beyond the default set, hostPath volumes, host ports, Unconfined
/// seccomp, unmasked /proc and unsafe sysctls; restricted also requires no privilege escalation,
/// running as non-root (and not as uid 0), a RuntimeDefault or Localhost seccomp profile, dropping
/// ALL capabilities (adding back only NET_BIND_SERVICE) and only the volume types it lists.
/// Under the <c>warn</c> label the pod is admitted and the client gets a <c>Warning</c>
/// (<c>would violate PodSecurity "restricted:latest": ...</c>); under the <c>audit</c> label it is
/// admitted and the request's audit event gets the <c>pod-security.kubernetes.io/audit-violations</c> annotation.
/// </summary>
/// <param name="store">The store, where the namespace's labels are read.</param>
public sealed class PodSecurity(IStateStore store) : IValidatingAdmissionPlugin
{
    /// <summary>The label that sets a namespace's enforced level.</summary>
    public const string EnforceLabel = "pod-security.kubernetes.io/enforce";

    /// <summary>The label that sets the level a namespace's pods are audited against.</summary>
    public const string AuditLabel = "pod-security.kubernetes.io/audit";

    /// <summary>The audit annotation that names what an audited pod would break.</summary>
    public const string AuditViolationsAnnotation = "pod-security.kubernetes.io/audit-violations";

    /// <summary>The label that sets the level a namespace's pods are warned about.</summary>
    public const string WarnLabel = "pod-security.kubernetes.io/warn";

    private static readonly HashSet<string> BaselineCapabilities = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"];
    private static readonly HashSet<string> SafeSysctls = ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"];
    private static readonly HashSet<string> RestrictedVolumes = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

    /// <inheritdoc />
    public string Name => "PodSecurity";

    /// <inheritdoc />
    public async ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Operation != AdmissionOperation.Create || request.Kind is not { Group: "", Kind: "Pod" } || request.Namespace is not { } ns)
        {
            return;
        }

        var labels = await StoredObjects.NamespaceLabelsAsync(store, ns, cancellationToken).ConfigureAwait(false);
        var spec = request.Object["spec"] as JsonObject ?? [];
        var level = labels?[EnforceLabel]?.ToString();
        if (level is "baseline" or "restricted" && Violations(spec, restricted: level == "restricted") is { Count: > 0 } violations)
        {
            var version = labels?[EnforceLabel + "-version"]?.ToString() ?? "latest";
            throw new ForbiddenException($"pods \"{request.Name}\" is forbidden: violates PodSecurity \"{level}:{version}\": {string.Join(", ", violations)}");
        }

        // audit: the pod is admitted and its audit event says what it would break.
        var audit = labels?[AuditLabel]?.ToString();
        if (audit is "baseline" or "restricted" && Violations(spec, restricted: audit == "restricted") is { Count: > 0 } audited)
        {
            var version = labels?[AuditLabel + "-version"]?.ToString() ?? "latest";
            request.AddAuditAnnotation(AuditViolationsAnnotation, $"would violate PodSecurity \"{audit}:{version}\": {string.Join(", ", audited)}");
        }

        // warn: the pod is admitted and the client told what it would break.
        var warn = labels?[WarnLabel]?.ToString();
        if (warn is "baseline" or "restricted" && Violations(spec, restricted: warn == "restricted") is { Count: > 0 } warnings)
        {
            var version = labels?[WarnLabel + "-version"]?.ToString() ?? "latest";
            request.Warn($"would violate PodSecurity \"{warn}:{version}\": {string.Join(", ", warnings)}");
        }
    }

    /// <summary>The checks of the Pod Security Standards a pod spec fails, in kube-apiserver's words.</summary>
    public static List<string> Violations(JsonObject spec, bool restricted)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var containers = new[] { "initContainers", "containers", "ephemeralContainers" }
            .SelectMany(field => (spec[field] as JsonArray ?? []).OfType<JsonObject>())
            .Select(c => (Name: c["name"]?.ToString() ?? "", Security: c["securityContext"] as JsonObject ?? [], Container: c))
            .ToList();
        var podSecurity = spec["securityContext"] as JsonObject ?? [];
        var volumes = (spec["volumes"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var found = new List<string>();

        var hostNamespaces = new[] { "hostNetwork", "hostPID", "hostIPC" }.Where(f => spec[f]?.GetValue<bool>() == true).Select(f => $"{f}=true").ToList();
        Add(found, hostNamespaces.Count > 0, $"host namespaces ({string.Join(", ", hostNamespaces)})");
        Add(found, Names(containers.Where(c => c.Security["privileged"]?.GetValue<bool>() == true)), names => $"privileged ({names} must not set securityContext.privileged=true)");
        var added = containers.SelectMany(c => Strings(c.Security["capabilities"]?["add"]).Where(cap => !BaselineCapabilities.Contains(cap)).Select(cap => (c.Name, cap))).ToList();
        Add(found, added.Count > 0, $"non-default capabilities ({string.Join(", ", added.GroupBy(a => a.Name).Select(g => $"container \"{g.Key}\" must not include {string.Join(", ", g.Select(a => $"\"{a.cap}\""))} in securityContext.capabilities.add"))})");
        Add(found, QuotedList("volume", volumes.Where(v => v["hostPath"] is not null).Select(v => v["name"]?.ToString() ?? "")), names => $"hostPath volumes ({names})");
        var hostPorts = containers.SelectMany(c => (c.Container["ports"] as JsonArray ?? []).OfType<JsonObject>().Where(p => p["hostPort"] is JsonValue v && v.GetValue<int>() != 0).Select(p => (c.Name, Port: p["hostPort"]!.GetValue<int>()))).ToList();
        Add(found, hostPorts.Count > 0, $"hostPort ({string.Join(", ", hostPorts.GroupBy(h => h.Name).Select(g => $"container \"{g.Key}\" uses {(g.Count() == 1 ? "hostPort" : "hostPorts")} {string.Join(", ", g.Select(h => h.Port))}"))})");
        var unconfined = (podSecurity["seccompProfile"]?["type"]?.ToString() == "Unconfined" ? ["pod"] : new List<string>())
            .Concat(containers.Where(c => c.Security["seccompProfile"]?["type"]?.ToString() == "Unconfined").Select(c => $"container \"{c.Name}\"")).ToList();
        Add(found, unconfined.Count > 0, $"seccompProfile ({string.Join(" and ", unconfined)} must not set securityContext.seccompProfile.type to \"Unconfined\")");
        Add(found, Names(containers.Where(c => c.Security["procMount"]?.ToString() is { } mount && mount != "Default")), names => $"procMount ({names} must not set securityContext.procMount to \"Unmasked\")");
        var sysctls = (podSecurity["sysctls"] as JsonArray ?? []).Select(s => s?["name"]?.ToString() ?? "").Where(s => !SafeSysctls.Contains(s)).ToList();
        Add(found, sysctls.Count > 0, $"forbidden sysctls ({string.Join(", ", sysctls)})");
        if (!restricted)
        {
            return found;
        }

        var restrictedVolumes = volumes.Select(v => (Name: v["name"]?.ToString() ?? "", Type: v.Select(p => p.Key).FirstOrDefault(k => k != "name") ?? "")).Where(v => !RestrictedVolumes.Contains(v.Type)).ToList();
        Add(found, restrictedVolumes.Count > 0, $"restricted volume types ({string.Join(", ", restrictedVolumes.Select(v => $"volume \"{v.Name}\" uses restricted volume type \"{v.Type}\""))})");
        Add(found, Names(containers.Where(c => c.Security["allowPrivilegeEscalation"]?.GetValue<bool>() != false)), names => $"allowPrivilegeEscalation != false ({names} must set securityContext.allowPrivilegeEscalation=false)");
        var notDropping = Names(containers.Where(c => !Strings(c.Security["capabilities"]?["drop"]).Contains("ALL")));
        var addingMore = containers.SelectMany(c => Strings(c.Security["capabilities"]?["add"]).Where(cap => cap != "NET_BIND_SERVICE").Select(cap => (c.Name, cap))).ToList();
        var capabilityProblems = new List<string>();
        if (notDropping is not null)
        {
            capabilityProblems.Add($"{notDropping} must set securityContext.capabilities.drop=[\"ALL\"]");
        }

        capabilityProblems.AddRange(addingMore.GroupBy(a => a.Name).Select(g => $"container \"{g.Key}\" must not include {string.Join(", ", g.Select(a => $"\"{a.cap}\""))} in securityContext.capabilities.add"));
        Add(found, capabilityProblems.Count > 0, $"unrestricted capabilities ({string.Join("; ", capabilityProblems)})");
        var podNonRoot = podSecurity["runAsNonRoot"]?.GetValue<bool>();
        var rootContainers = containers.Where(c => c.Security["runAsNonRoot"]?.GetValue<bool>() is { } own ? !own : podNonRoot != true).ToList();
        Add(found, Names(rootContainers), names => $"runAsNonRoot != true (pod or {names} must set securityContext.runAsNonRoot=true)");
        var uidZero = (podSecurity["runAsUser"] is JsonValue podUser && podUser.GetValue<long>() == 0 ? ["pod"] : new List<string>())
            .Concat(containers.Where(c => c.Security["runAsUser"] is JsonValue u && u.GetValue<long>() == 0).Select(c => $"container \"{c.Name}\"")).ToList();
        Add(found, uidZero.Count > 0, $"runAsUser=0 ({string.Join(" and ", uidZero)} must not set runAsUser=0)");
        var podSeccomp = podSecurity["seccompProfile"]?["type"]?.ToString();
        var noProfile = containers.Where(c => (c.Security["seccompProfile"]?["type"]?.ToString() ?? podSeccomp) is not ("RuntimeDefault" or "Localhost")).ToList();
        Add(found, Names(noProfile), names => $"seccompProfile (pod or {names} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")");
        return found;
    }

    private static void Add(List<string> found, bool failed, string message)
    {
        if (failed)
        {
            found.Add(message);
        }
    }

    private static void Add(List<string> found, string? names, Func<string, string> message)
    {
        if (names is not null)
        {
            found.Add(message(names));
        }
    }

    // container "a" / containers "a", "b"; null for none.
    private static string? Names(IEnumerable<(string Name, JsonObject Security, JsonObject Container)> containers) =>
        QuotedList("container", containers.Select(c => c.Name));

    private static string? QuotedList(string noun, IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count switch
        {
            0 => null,
            1 => $"{noun} \"{list[0]}\"",
            _ => $"{noun}s {string.Join(", ", list.Select(n => $"\"{n}\""))}",
        };
    }

    private static IEnumerable<string> Strings(JsonNode? node) => node is JsonArray array ? array.Select(n => n?.ToString() ?? "") : [];
}
