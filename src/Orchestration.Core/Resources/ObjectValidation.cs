using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using Orchestration.Client;

using Orchestration.Resources.Strategies;

namespace Orchestration.Resources;

/// <summary>
/// The checks every write of an object passes, with Kubernetes's field paths and wording: the
/// name, labels, the JSON types of known fields, and the fields each built-in kind requires.
/// </summary>
public static partial class ObjectValidation
{
    /// <summary>Checks an object about to be written: what every object must be (metadata, name, labels, annotations, the JSON types of known fields), then its kind's own rules.</summary>
    /// <param name="kind">The object's kind.</param>
    /// <param name="strategy">The kind's strategy.</param>
    /// <param name="obj">The object as it would be stored.</param>
    /// <param name="old">The current object on an update; null on a create.</param>
    /// <param name="name">The object's name.</param>
    /// <exception cref="BadRequestException">A field has the wrong JSON type.</exception>
    /// <exception cref="InvalidException">Fields are invalid or missing; the causes name each.</exception>
    public static void Validate(ResourceKind kind, IResourceStrategy strategy, JsonObject obj, JsonObject? old, string name)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(strategy);
        ArgumentNullException.ThrowIfNull(obj);
        if (obj["metadata"] is not (null or JsonObject))
        {
            throw new BadRequestException("metadata must be an object");
        }

        var meta = obj["metadata"] as JsonObject ?? [];
        ObjectConversion.CheckReadable(kind.ClrType ?? typeof(V1ObjectMeta), kind.ClrType is null ? meta : obj);
        var causes = new List<V1StatusCause>();
        if (string.IsNullOrEmpty(name))
        {
            causes.Add(Required("metadata.name", "name or generateName is required"));
        }
        else
        {
            foreach (var problem in NameValidation.Check(name, kind.NameRule))
            {
                causes.Add(InvalidValue("metadata.name", name, problem));
            }
        }

        if (kind.Namespaced && meta["namespace"]?.ToString() is { } ns)
        {
            foreach (var problem in NameValidation.CheckLabel(ns))
            {
                causes.Add(InvalidValue("metadata.namespace", ns, problem));
            }
        }

        CheckLabels(meta["labels"] as JsonObject, "metadata.labels", causes);
        CheckAnnotations(meta["annotations"] as JsonObject, causes);
        strategy.Validate(kind, obj, old, causes);
        if (causes.Count > 0)
        {
            throw new InvalidException(kind.Group, kind.Kind, name, causes);
        }
    }

    /// <summary>A cause for a missing field.</summary>
    public static V1StatusCause Required(string field, string message) =>
        new() { Reason = "FieldValueRequired", Field = field, Message = $"Required value: {message}" };

    /// <summary>A cause for a field with a bad value.</summary>
    public static V1StatusCause InvalidValue(string field, object? value, string message) =>
        new() { Reason = "FieldValueInvalid", Field = field, Message = $"Invalid value: {Quote(value)}: {message}" };

    /// <summary>A cause for a value outside the supported set.</summary>
    public static V1StatusCause Unsupported(string field, object? value, params string[] supported) =>
        new() { Reason = "FieldValueNotSupported", Field = field, Message = $"Unsupported value: {Quote(value)}: supported values: {string.Join(", ", supported.Select(s => $"\"{s}\""))}" };

    private static string Quote(object? value) => value is string s ? $"\"{s}\"" : value?.ToString() ?? "null";

    internal static void CheckLabels(JsonObject? labels, string path, ICollection<V1StatusCause> causes)
    {
        foreach (var (key, value) in labels ?? [])
        {
            var name = key.Contains('/') ? key[(key.IndexOf('/') + 1)..] : key;
            if (name.Length is 0 or > 63 || !LabelName().IsMatch(name))
            {
                causes.Add(InvalidValue(path, key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
            }

            var text = value?.ToString() ?? "";
            if (text.Length > 63 || (text.Length > 0 && !LabelName().IsMatch(text)))
            {
                causes.Add(InvalidValue(path, text, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
            }
        }
    }

    internal static void CheckAnnotations(JsonObject? annotations, ICollection<V1StatusCause> causes)
    {
        var total = 0;
        foreach (var (key, value) in annotations ?? [])
        {
            var name = key.Contains('/') ? key[(key.IndexOf('/') + 1)..] : key;
            var prefix = key.Contains('/') ? key[..key.IndexOf('/')] : null;
            if (name.Length is 0 or > 63 || !LabelName().IsMatch(name) || (prefix is not null && NameValidation.CheckSubdomain(prefix).Count > 0))
            {
                causes.Add(InvalidValue("metadata.annotations", key, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
            }

            total += key.Length + (value?.ToString().Length ?? 0);
        }

        if (total > 256 * 1024)
        {
            causes.Add(new V1StatusCause { Reason = "FieldValueTooLong", Field = "metadata.annotations", Message = $"Too long: must have at most {256 * 1024} bytes" });
        }
    }

    internal static void CheckPodSpec(JsonObject? spec, string path, ICollection<V1StatusCause> causes)
    {
        if (spec is null)
        {
            causes.Add(Required(path, ""));
            return;
        }

        if (spec["containers"] is not JsonArray { Count: > 0 } containers)
        {
            causes.Add(Required($"{path}.containers", ""));
            return;
        }

        CheckContainers(containers, $"{path}.containers", causes);
        if (spec["initContainers"] is JsonArray init)
        {
            CheckContainers(init, $"{path}.initContainers", causes);
        }

        if (spec["restartPolicy"]?.ToString() is { } policy && policy is not ("Always" or "OnFailure" or "Never"))
        {
            causes.Add(Unsupported($"{path}.restartPolicy", policy, "Always", "OnFailure", "Never"));
        }
    }

    internal static void CheckContainers(JsonArray containers, string path, ICollection<V1StatusCause> causes)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < containers.Count; i++)
        {
            var container = containers[i] as JsonObject ?? [];
            var name = container["name"]?.ToString();
            if (string.IsNullOrEmpty(name))
            {
                causes.Add(Required($"{path}[{i}].name", ""));
            }
            else
            {
                foreach (var problem in NameValidation.CheckLabel(name))
                {
                    causes.Add(InvalidValue($"{path}[{i}].name", name, problem));
                }

                if (!seen.Add(name))
                {
                    causes.Add(new V1StatusCause { Reason = "FieldValueDuplicate", Field = $"{path}[{i}].name", Message = $"Duplicate value: \"{name}\"" });
                }
            }

            if (string.IsNullOrWhiteSpace(container["image"]?.ToString()))
            {
                causes.Add(Required($"{path}[{i}].image", ""));
            }

            if (container["ports"] is JsonArray ports)
            {
                for (var p = 0; p < ports.Count; p++)
                {
                    if (ports[p]?["containerPort"] is not JsonValue port || !port.TryGetInt(out var number) || number is < 1 or > 65535)
                    {
                        causes.Add(InvalidValue($"{path}[{i}].ports[{p}].containerPort", ports[p]?["containerPort"]?.ToString(), "must be between 1 and 65535, inclusive"));
                    }
                }
            }
        }
    }

    internal static void CheckWorkload(JsonObject? spec, ICollection<V1StatusCause> causes, bool requireSelector)
    {
        if (spec is null)
        {
            causes.Add(Required("spec", ""));
            return;
        }

        if (spec["replicas"] is JsonValue replicas && replicas.TryGetInt(out var count) && count < 0)
        {
            causes.Add(InvalidValue("spec.replicas", count, "must be greater than or equal to 0"));
        }

        var selector = spec["selector"] as JsonObject;
        if (requireSelector && (selector is null || (selector["matchLabels"] is not JsonObject { Count: > 0 } && selector["matchExpressions"] is not JsonArray { Count: > 0 })))
        {
            causes.Add(Required("spec.selector", ""));
        }

        var template = spec["template"] as JsonObject;
        var templateLabels = template?["metadata"]?["labels"] as JsonObject;
        if (selector?["matchLabels"] is JsonObject matchLabels)
        {
            foreach (var (key, value) in matchLabels)
            {
                if (templateLabels?[key]?.ToString() != value?.ToString())
                {
                    causes.Add(InvalidValue("spec.template.metadata.labels", templateLabels?.ToJsonString() ?? "null", "`selector` does not match template `labels`"));
                    break;
                }
            }
        }

        CheckLabels(templateLabels, "spec.template.metadata.labels", causes);
        CheckPodSpec(template?["spec"] as JsonObject, "spec.template.spec", causes);
    }

    internal static void CheckJob(JsonObject? spec, ICollection<V1StatusCause> causes)
    {
        CheckWorkload(spec, causes, requireSelector: false);
        var policy = spec?["template"]?["spec"]?["restartPolicy"]?.ToString();
        if (policy is not ("OnFailure" or "Never"))
        {
            causes.Add(policy is null ? Required("spec.template.spec.restartPolicy", "valid values: \"OnFailure\", \"Never\"") : Unsupported("spec.template.spec.restartPolicy", policy, "OnFailure", "Never"));
        }

        foreach (var field in new[] { "completions", "parallelism", "backoffLimit" })
        {
            if (spec?[field] is JsonValue v && v.TryGetInt(out var n) && n < 0)
            {
                causes.Add(InvalidValue($"spec.{field}", n, "must be greater than or equal to 0"));
            }
        }
    }

    internal static void CheckService(JsonObject? spec, ICollection<V1StatusCause> causes)
    {
        var type = spec?["type"]?.ToString() ?? "ClusterIP";
        if (type is not ("ClusterIP" or "NodePort" or "LoadBalancer" or "ExternalName"))
        {
            causes.Add(Unsupported("spec.type", type, "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"));
        }

        var headless = spec?["clusterIP"]?.ToString() == "None";
        if (spec?["ports"] is not JsonArray { Count: > 0 } ports)
        {
            if (!headless && type != "ExternalName")
            {
                causes.Add(Required("spec.ports", ""));
            }

            return;
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < ports.Count; i++)
        {
            var port = ports[i] as JsonObject ?? [];
            if (port["port"] is not JsonValue number || !number.TryGetInt(out var value) || value is < 1 or > 65535)
            {
                causes.Add(InvalidValue($"spec.ports[{i}].port", port["port"]?.ToString(), "must be between 1 and 65535, inclusive"));
            }

            var name = port["name"]?.ToString() ?? "";
            if (ports.Count > 1 && name.Length == 0)
            {
                causes.Add(Required($"spec.ports[{i}].name", ""));
            }
            else if (!names.Add(name))
            {
                causes.Add(new V1StatusCause { Reason = "FieldValueDuplicate", Field = $"spec.ports[{i}].name", Message = $"Duplicate value: \"{name}\"" });
            }

            if (port["protocol"]?.ToString() is { } protocol && protocol is not ("TCP" or "UDP" or "SCTP"))
            {
                causes.Add(Unsupported($"spec.ports[{i}].protocol", protocol, "SCTP", "TCP", "UDP"));
            }
        }
    }

    internal static void CheckDataKeys(JsonObject? data, string path, ICollection<V1StatusCause> causes)
    {
        foreach (var (key, _) in data ?? [])
        {
            if (key.Length is 0 or > 253 || !DataKey().IsMatch(key))
            {
                causes.Add(InvalidValue($"{path}[{key}]", key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
            }
        }
    }

    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")]
    private static partial Regex LabelName();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex DataKey();

    /// <summary>The integer a JSON value holds, whatever number type it was read as.</summary>
    public static bool TryGetInt(this JsonValue value, out int result)
    {
        if (value.TryGetValue(out result))
        {
            return true;
        }

        if (value.TryGetValue<long>(out var wide) && wide is >= int.MinValue and <= int.MaxValue)
        {
            result = (int)wide;
            return true;
        }

        if (value.TryGetValue<double>(out var real) && real == Math.Floor(real) && real is >= int.MinValue and <= int.MaxValue)
        {
            result = (int)real;
            return true;
        }

        return false;
    }
}
