using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.ApiServer.Routing;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Patching;

namespace Orchestration.ApiServer.Handlers;

public sealed partial class ResourceHandler
{
    private Task SubresourceAsync(HttpContext context, ResourceKind kind, string version, ResourcePath path, string subresource, RequestOptions request)
    {
        var name = path.Name!;
        var method = context.Request.Method;
        return (subresource, method) switch
        {
            ("status", "GET") when kind.HasStatus => GetAsync(context, kind, version, path.Namespace, name),
            ("status", "PUT") when kind.HasStatus => UpdateAsync(context, kind, version, path.Namespace, name, statusOnly: true, request),
            ("status", "PATCH") when kind.HasStatus => PatchAsync(context, kind, version, path.Namespace, name, statusOnly: true, request),
            ("scale", "GET") when kind.HasScale => GetScaleAsync(context, kind, path.Namespace, name),
            ("scale", "PUT" or "PATCH") when kind.HasScale => WriteScaleAsync(context, kind, path.Namespace, name, request),
            ("binding", "POST") when kind.ExtraSubresources.Contains("binding") => BindAsync(context, kind, path.Namespace, name, request),
            ("token", "POST") when kind.ExtraSubresources.Contains("token") => TokenRequestAsync(context, path.Namespace!, name),
            ("finalize", "PUT") when kind is { Group: "", Plural: "namespaces" } => UpdateAsync(context, kind, version, null, name, statusOnly: false, request),
            ("log", "GET") when kind.ExtraSubresources.Contains("log") => podConnections.ServeAsync(context, subresource, path.Namespace!, name),
            ("exec" or "attach" or "portforward", "GET" or "POST") when kind.ExtraSubresources.Contains(subresource) => podConnections.ServeAsync(context, subresource, path.Namespace!, name),
            ("status" or "scale" or "binding" or "token" or "finalize" or "log" or "exec" or "attach" or "portforward", _) when Serves(kind, subresource) => throw ApiErrors.MethodNotAllowed(method, $"{kind.Plural}/{subresource}"),
            _ => throw ApiErrors.UnknownResource(context.Request.Path),
        };
    }

    private static bool Serves(ResourceKind kind, string subresource) => subresource switch
    {
        "status" => kind.HasStatus,
        "scale" => kind.HasScale,
        "finalize" => kind is { Group: "", Plural: "namespaces" },
        _ => kind.ExtraSubresources.Contains(subresource),
    };

    private async Task GetScaleAsync(HttpContext context, ResourceKind kind, string? ns, string name)
    {
        var obj = await registry.GetAsync(kind, ns, name, context.RequestAborted).ConfigureAwait(false);
        await ApiJson.WriteAsync(context, 200, ScaleOf(kind, obj)).ConfigureAwait(false);
    }

    private async Task WriteScaleAsync(HttpContext context, ResourceKind kind, string? ns, string name, RequestOptions request)
    {
        JsonObject? sentScale = null;
        ObjectPatch? patch = null;
        IObjectPatcher? patcher = null;
        object? parsed = null;
        if (context.Request.Method == "PUT")
        {
            sentScale = await RequestBodies.ReadObjectAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            var patchKind = RequestBodies.MediaType(context.Request) switch
            {
                "application/json-patch+json" => PatchKind.Json,
                "application/merge-patch+json" => PatchKind.Merge,
                "application/strategic-merge-patch+json" => PatchKind.Merge,
                _ => throw ApiErrors.UnsupportedMediaType(context.Request.ContentType, PatchMediaTypes),
            };
            patch = new ObjectPatch(patchKind, ApiJson.Text(await RequestBodies.ReadAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false)));
            patcher = registry.Patchers.For(patchKind);
            parsed = patcher.Parse(patch);
        }

        var updated = await registry.MutateAsync(
            kind,
            ns,
            name,
            current =>
            {
                var scale = sentScale ?? patcher!.Apply(kind, ScaleOf(kind, current), parsed!, patch!);
                if ((scale["spec"] as JsonObject)?["replicas"] is not JsonValue value || !value.TryGetInt(out var replicas) || replicas < 0)
                {
                    throw new InvalidException("autoscaling", "Scale", name, [ObjectValidation.InvalidValue("spec.replicas", (scale["spec"] as JsonObject)?["replicas"]?.ToString(), "must be greater than or equal to 0")]);
                }

                var before = (JsonObject)current.DeepClone();
                SetPath(current, kind.Scale.SpecReplicas, replicas);
                Patching.ManagedFields.RecordUpdate(kind, before, current, Manager(context, request), kind.ApiVersion, "scale", timeProvider);
                if ((scale["metadata"] as JsonObject)?["resourceVersion"]?.ToString() is { Length: > 0 } rv)
                {
                    ObjectRegistry.MetadataOf(current)["resourceVersion"] = rv;
                }

                return current;
            },
            statusOnly: false,
            request.Write,
            context.RequestAborted).ConfigureAwait(false);
        await ApiJson.WriteAsync(context, 200, ScaleOf(kind, updated)).ConfigureAwait(false);
    }

    private static JsonObject ScaleOf(ResourceKind kind, JsonObject obj)
    {
        var meta = obj["metadata"] as JsonObject ?? [];
        var selector = kind.Scale.LabelSelector is { } selectorPath
            ? GetPath(obj, selectorPath)?.ToString()
            : LabelSelectors.ToString(obj["spec"]?["selector"] as JsonObject);
        var status = new JsonObject { ["replicas"] = GetPath(obj, kind.Scale.StatusReplicas)?.DeepClone() ?? 0 };
        if (!string.IsNullOrEmpty(selector))
        {
            status["selector"] = selector;
        }

        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = meta["name"]?.DeepClone(),
                ["namespace"] = meta["namespace"]?.DeepClone(),
                ["uid"] = meta["uid"]?.DeepClone(),
                ["resourceVersion"] = meta["resourceVersion"]?.DeepClone(),
                ["creationTimestamp"] = meta["creationTimestamp"]?.DeepClone(),
            },
            ["spec"] = new JsonObject { ["replicas"] = GetPath(obj, kind.Scale.SpecReplicas)?.DeepClone() ?? 0 },
            ["status"] = status,
        };
    }

    private async Task BindAsync(HttpContext context, ResourceKind kind, string? ns, string name, RequestOptions request)
    {
        var binding = await RequestBodies.ReadObjectAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        var node = (binding["target"] as JsonObject)?["name"]?.ToString();
        if (string.IsNullOrEmpty(node))
        {
            throw new InvalidException("", "Binding", name, [ObjectValidation.Required("target.name", "")]);
        }

        await registry.BindPodAsync(ns, name, node, request.Write, context.RequestAborted).ConfigureAwait(false);
        await ApiJson.WriteAsync(context, 201, ApiJson.Success()).ConfigureAwait(false);
    }

    // TokenRequest (serviceaccounts/token, what `kubectl create token` and the node agents call): a
    // signed token for the ServiceAccount, bound to a pod when the request names one.
    private async Task TokenRequestAsync(HttpContext context, string ns, string name)
    {
        var body = await RequestBodies.ReadObjectAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        var spec = body["spec"] as JsonObject ?? [];
        var seconds = spec["expirationSeconds"] is JsonValue value && value.TryGetValue<long>(out var asked) ? asked : 3600;
        string? podName = null, podUid = null;
        if (spec["boundObjectRef"] is JsonObject bound)
        {
            var kind = bound["kind"]?.ToString() ?? "";
            if (kind != "Pod")
            {
                throw new InvalidException("authentication.k8s.io", "TokenRequest", name, [ObjectValidation.Unsupported("spec.boundObjectRef.kind", kind, "Pod")]);
            }

            (podName, podUid) = (bound["name"]?.ToString() ?? "", bound["uid"]?.ToString());
        }

        var audiences = (spec["audiences"] as JsonArray ?? []).Select(a => a?.ToString() ?? "").Where(a => a.Length > 0).ToList();
        var issued = await tokens.RequestTokenAsync(ns, name, new ServiceAccountTokenRequest(audiences, seconds, podName, podUid), context.RequestAborted).ConfigureAwait(false);
        spec["expirationSeconds"] = seconds;
        spec["audiences"] = new JsonArray([.. (audiences.Count > 0 ? audiences : [Security.Tokens.ServiceAccountTokens.DefaultIssuer]).Select(a => (JsonNode?)JsonValue.Create(a))]);
        var response = new JsonObject
        {
            ["kind"] = "TokenRequest",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["creationTimestamp"] = timeProvider.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture) },
            ["spec"] = spec.DeepClone(),
            ["status"] = new JsonObject { ["token"] = issued.Token, ["expirationTimestamp"] = issued.ExpirationTimestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture) },
        };
        await ApiJson.WriteAsync(context, 201, response).ConfigureAwait(false);
    }

    internal static JsonNode? GetPath(JsonObject obj, string path)
    {
        JsonNode? node = obj;
        foreach (var segment in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            node = node is JsonObject o ? o[segment] : null;
        }

        return node;
    }

    private static void SetPath(JsonObject obj, string path, int value)
    {
        var segments = path.Split('.', StringSplitOptions.RemoveEmptyEntries);
        var node = obj;
        foreach (var segment in segments[..^1])
        {
            if (node[segment] is not JsonObject child)
            {
                child = [];
                node[segment] = child;
            }

            node = child;
        }

        node[segments[^1]] = value;
    }
}
