using System.Globalization;
using System.Text;
using k8s.Models;
using Orchestration.Scheduling;

namespace Orchestration.NodeAgent;

/// <summary>
/// The downward API's values as kubelet computes them: a pod field (<c>fieldRef</c>) and a
/// container's resource (<c>resourceFieldRef</c>) as text.
/// </summary>
internal static class DownwardApi
{
    /// <summary>
    /// The value of <paramref name="fieldPath"/> (<c>metadata.name</c>, <c>metadata.labels['app']</c>,
    /// <c>spec.nodeName</c>, <c>status.podIP</c>, ...).
    /// </summary>
    /// <exception cref="ContainerConfigException">The path is not one the downward API offers.</exception>
    public static string PodField(V1Pod pod, string fieldPath, string podIp, Func<string> hostIp)
    {
        var meta = pod.Metadata;
        if (Subscripted(fieldPath, out var path, out var key))
        {
            // A missing label or annotation reads as empty, as a Go map lookup does.
            return path switch
            {
                "metadata.labels" => meta.Labels?.TryGetValue(key, out var label) == true ? label : "",
                "metadata.annotations" => meta.Annotations?.TryGetValue(key, out var annotation) == true ? annotation : "",
                _ => throw new ContainerConfigException($"unsupported fieldPath: {fieldPath}"),
            };
        }

        return fieldPath switch
        {
            "metadata.name" => meta.Name ?? "",
            "metadata.namespace" => meta.NamespaceProperty ?? "default",
            "metadata.uid" => meta.Uid ?? "",
            "metadata.labels" => FormatMap(meta.Labels),
            "metadata.annotations" => FormatMap(meta.Annotations),
            "spec.nodeName" => pod.Spec.NodeName ?? "",
            "spec.serviceAccountName" => pod.Spec.ServiceAccountName ?? "",
            "status.podIP" or "status.podIPs" => podIp,
            "status.hostIP" or "status.hostIPs" => hostIp(),
            _ => throw new ContainerConfigException($"unsupported fieldPath: {fieldPath}"),
        };
    }

    /// <summary>
    /// A container's CPU or memory request or limit divided by the selector's divisor, rounded up
    /// (<c>limits.memory</c> with divisor <c>1Mi</c> gives mebibytes). An unset limit is the node's
    /// allocatable, an unset request its limit if it has one, as kubelet and the API's defaults make them.
    /// </summary>
    /// <exception cref="ContainerConfigException">The resource is not one the downward API offers.</exception>
    public static string ContainerResource(V1ResourceFieldSelector selector, V1Container container, ResourceAmounts allocatable)
    {
        var limits = container.Resources?.Limits;
        var requests = container.Resources?.Requests;
        var resource = selector.Resource ?? "";
        var name = resource.StartsWith("limits.", StringComparison.Ordinal) ? resource["limits.".Length..]
            : resource.StartsWith("requests.", StringComparison.Ordinal) ? resource["requests.".Length..]
            : null;
        if (name is not ("cpu" or "memory" or "ephemeral-storage"))
        {
            throw new ContainerConfigException($"unsupported container resource : {resource}");
        }

        decimal? value = resource.StartsWith("limits.", StringComparison.Ordinal)
            ? Amount(limits, name) ?? name switch { "cpu" => allocatable.MilliCpu / 1000m, "memory" => allocatable.MemoryBytes, _ => null }
            : Amount(requests, name) ?? Amount(limits, name) ?? 0m;
        if (value is null)
        {
            throw new ContainerConfigException($"unsupported container resource : {resource}");
        }

        var divisor = selector.Divisor?.ToDecimal() is { } d && d > 0 ? d : 1m;
        if (name == "cpu")
        {
            // In whole millicores, rounded up on both sides, as Quantity.MilliValue does.
            var milli = Math.Ceiling(value.Value * 1000);
            var divisorMilli = Math.Ceiling(divisor * 1000);
            return Math.Ceiling(milli / divisorMilli).ToString(CultureInfo.InvariantCulture);
        }

        return Math.Ceiling(Math.Ceiling(value.Value) / Math.Ceiling(divisor)).ToString(CultureInfo.InvariantCulture);
    }

    private static decimal? Amount(IDictionary<string, ResourceQuantity>? list, string name) =>
        list is not null && list.TryGetValue(name, out var quantity) ? quantity.ToDecimal() : null;

    // "metadata.labels['app']" → ("metadata.labels", "app").
    private static bool Subscripted(string fieldPath, out string path, out string key)
    {
        path = fieldPath;
        key = "";
        var open = fieldPath.IndexOf("['", StringComparison.Ordinal);
        if (open < 0 || !fieldPath.EndsWith("']", StringComparison.Ordinal) || open + 2 > fieldPath.Length - 2)
        {
            return false;
        }

        path = fieldPath[..open];
        key = fieldPath[(open + 2)..^2];
        return true;
    }

    /// <summary>A whole label or annotation map as the downward API writes it: sorted <c>key="value"</c> lines.</summary>
    private static string FormatMap(IDictionary<string, string>? map)
    {
        if (map is null || map.Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (var (key, value) in map.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (text.Length > 0)
            {
                text.Append('\n');
            }

            text.Append(key).Append('=').Append(GoQuote(value));
        }

        return text.ToString();
    }

    // Go's %q for the characters a label or annotation value holds in practice.
    private static string GoQuote(string value)
    {
        var text = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            text.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                _ when char.IsControl(c) => string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ => c.ToString(),
            });
        }

        return text.Append('"').ToString();
    }
}
