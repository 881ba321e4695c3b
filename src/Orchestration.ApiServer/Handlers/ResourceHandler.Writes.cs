using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.ApiServer.Patching;
using Orchestration.ApiServer.Routing;
using Orchestration.ApiServer.Serialization;
using Orchestration.ApiServer.Validation;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Handlers;

public sealed partial class ResourceHandler
{
    private static readonly string[] PatchMediaTypes =
    [
        "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml",
    ];

    /// <summary>Raised after an object of a kind is written, so derived state (custom kinds) follows at once.</summary>
    public event Action<ResourceKind, JsonObject, bool>? Written;

    private async Task CreateAsync(HttpContext context, ResourceKind kind, string version, ResourcePath path, RequestOptions request)
    {
        var body = await RequestBodies.ReadObjectAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        CheckTypeMeta(kind, version, body, required: true);
        var warnings = CheckFields(kind, version, body, request);
        ManagedFields.RecordUpdate(kind, null, body, Manager(context, request), ApiVersionOf(kind, version), null, timeProvider);
        var created = await registry.CreateAsync(kind, path.Namespace, body, request.Write, context.RequestAborted).ConfigureAwait(false);
        AfterWrite(kind, created, request);
        AddWarnings(context, warnings);
        await ApiJson.WriteAsync(context, 201, AtVersion(kind, version, created)).ConfigureAwait(false);
    }

    private async Task UpdateAsync(HttpContext context, ResourceKind kind, string version, string? ns, string name, bool statusOnly, RequestOptions request)
    {
        var body = await RequestBodies.ReadObjectAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        CheckTypeMeta(kind, version, body, required: false);
        var warnings = CheckFields(kind, version, body, request);
        JsonObject updated;
        if (statusOnly)
        {
            updated = await registry.UpdateAsync(kind, ns, name, body, statusOnly, request.Write, context.RequestAborted).ConfigureAwait(false);
        }
        else
        {
            CheckIdentity(kind, ns, name, body);
            var manager = Manager(context, request);
            updated = await registry.MutateAsync(
                kind,
                ns,
                name,
                current =>
                {
                    var next = (JsonObject)body.DeepClone();
                    ManagedFields.RecordUpdate(kind, current, next, manager, ApiVersionOf(kind, version), null, timeProvider);
                    return next;
                },
                statusOnly: false,
                request.Write,
                context.RequestAborted).ConfigureAwait(false);
        }

        AfterWrite(kind, updated, request);
        AddWarnings(context, warnings);
        await ApiJson.WriteAsync(context, 200, AtVersion(kind, version, updated)).ConfigureAwait(false);
    }

    private async Task PatchAsync(HttpContext context, ResourceKind kind, string version, string? ns, string name, bool statusOnly, RequestOptions request)
    {
        var patchKind = RequestBodies.MediaType(context.Request) switch
        {
            "application/json-patch+json" => PatchKind.Json,
            "application/merge-patch+json" => PatchKind.Merge,
            "application/strategic-merge-patch+json" => PatchKind.StrategicMerge,
            "application/apply-patch+yaml" or "application/apply-patch+json" => PatchKind.Apply,
            _ => throw ApiErrors.UnsupportedMediaType(context.Request.ContentType, PatchMediaTypes),
        };
        var body = ApiJson.Text(await RequestBodies.ReadAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false));
        if (patchKind == PatchKind.Apply && request.FieldManager is null)
        {
            throw new BadRequestException("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
        }

        var patch = new ObjectPatch(patchKind, body, request.FieldManager, request.Force);
        var patcher = registry.Patchers.For(patchKind);
        var parsed = patcher.Parse(patch);
        if (patchKind == PatchKind.Apply && parsed is JsonObject configuration)
        {
            // An applied configuration names its object: it must be the one of the URL.
            CheckTypeMeta(kind, version, configuration, required: false);
            CheckIdentity(kind, ns, name, configuration);
        }
        IReadOnlyList<string> warnings = [];
        JsonObject result;
        try
        {
            result = await registry.MutateAsync(
                kind,
                ns,
                name,
                current =>
                {
                    var before = patchKind == PatchKind.Apply || statusOnly ? null : (JsonObject)current.DeepClone();
                    var patched = patcher.Apply(kind, current, parsed, patch);
                    warnings = CheckFields(kind, version, patched, request);
                    if (before is not null)
                    {
                        ManagedFields.RecordUpdate(kind, before, patched, Manager(context, request), ApiVersionOf(kind, version), null, timeProvider);
                    }

                    return patched;
                },
                statusOnly,
                request.Write,
                context.RequestAborted).ConfigureAwait(false);
        }
        catch (NotFoundException) when (patchKind == PatchKind.Apply && !statusOnly)
        {
            // Server-side apply creates what does not exist yet.
            var applied = patcher.Apply(kind, new JsonObject { ["metadata"] = new JsonObject { ["name"] = name } }, parsed, patch);
            CheckTypeMeta(kind, version, applied, required: false);
            warnings = CheckFields(kind, version, applied, request);
            result = await registry.CreateAsync(kind, ns, applied, request.Write, context.RequestAborted).ConfigureAwait(false);
            AfterWrite(kind, result, request);
            AddWarnings(context, warnings);
            await ApiJson.WriteAsync(context, 201, AtVersion(kind, version, result)).ConfigureAwait(false);
            return;
        }

        AfterWrite(kind, result, request);
        AddWarnings(context, warnings);
        await ApiJson.WriteAsync(context, 200, AtVersion(kind, version, result)).ConfigureAwait(false);
    }

    private async Task DeleteAsync(HttpContext context, ResourceKind kind, string version, string? ns, string name, RequestOptions request)
    {
        var deleteOptions = await ReadDeleteOptionsAsync(context, request).ConfigureAwait(false);
        var write = request.Write with { DryRun = request.DryRun || deleteOptions.DryRun };
        var deleted = await registry.DeleteAsync(kind, ns, name, deleteOptions.Options, write, context.RequestAborted).ConfigureAwait(false);
        AfterWrite(kind, deleted, request, deleted: true);
        var pending = deleted["metadata"]?["deletionTimestamp"] is not null;
        await ApiJson.WriteAsync(context, pending ? 202 : 200, AtVersion(kind, version, deleted)).ConfigureAwait(false);
    }

    private async Task DeleteCollectionAsync(HttpContext context, ResourceKind kind, string version, ResourcePath path, RequestOptions request)
    {
        var deleteOptions = await ReadDeleteOptionsAsync(context, request).ConfigureAwait(false);
        var write = request.Write with { DryRun = request.DryRun || deleteOptions.DryRun };
        var list = await registry.ListAsync(kind, path.Namespace, ListOptionsOf(request) with { Limit = 0, Continue = null }, context.RequestAborted).ConfigureAwait(false);
        var deleted = new JsonArray();
        foreach (var item in list.Items)
        {
            var meta = item["metadata"]!;
            try
            {
                deleted.Add(AtVersion(kind, version, await registry.DeleteAsync(kind, meta["namespace"]?.ToString(), meta["name"]!.ToString(), deleteOptions.Options, write, context.RequestAborted).ConfigureAwait(false)));
            }
            catch (NotFoundException)
            {
                // Deleted by someone else meanwhile: that is what was asked.
            }
        }

        var body = new JsonObject
        {
            ["kind"] = kind.ListKind,
            ["apiVersion"] = kind.Group.Length == 0 ? version : $"{kind.Group}/{version}",
            ["metadata"] = new JsonObject { ["resourceVersion"] = list.ResourceVersion },
            ["items"] = deleted,
        };
        await ApiJson.WriteAsync(context, 200, body).ConfigureAwait(false);
    }

    private async Task<(DeleteOptions Options, bool DryRun)> ReadDeleteOptionsAsync(HttpContext context, RequestOptions request)
    {
        var raw = await RequestBodies.ReadAsync(context.Request, _options.MaxRequestBodyBytes, context.RequestAborted).ConfigureAwait(false);
        var body = raw.Length == 0 ? [] : RequestBodies.ParseObject(raw, yaml: RequestBodies.MediaType(context.Request).Contains("yaml", StringComparison.Ordinal));
        var policy = request.String("propagationPolicy") ?? body["propagationPolicy"]?.ToString();
        if (policy is not (null or "Orphan" or "Background" or "Foreground"))
        {
            throw new BadRequestException($"propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Background\", \"Foreground\", \"Orphan\"");
        }

        if (body["orphanDependents"] is JsonValue orphan && orphan.TryGetValue<bool>(out var orphanDependents) && orphanDependents)
        {
            policy ??= "Orphan";
        }

        var dryRun = body["dryRun"] is JsonArray array && array.Any(v => v?.ToString() == "All");
        var preconditions = body["preconditions"] as JsonObject;
        if (body["preconditions"] is not (null or JsonObject))
        {
            throw new BadRequestException("DeleteOptions.preconditions must be an object");
        }
        return (new DeleteOptions
        {
            PropagationPolicy = policy,
            PreconditionUid = preconditions?["uid"]?.ToString(),
            PreconditionResourceVersion = preconditions?["resourceVersion"]?.ToString(),
            GracePeriodSeconds = long.TryParse(request.String("gracePeriodSeconds") ?? body["gracePeriodSeconds"]?.ToString(), CultureInfo.InvariantCulture, out var grace) ? grace : null,
        }, dryRun);
    }

    /// <summary>Who is writing: the fieldManager parameter, or the client's name from its User-Agent, as Kubernetes defaults it.</summary>
    private static string Manager(HttpContext context, RequestOptions request)
    {
        if (request.FieldManager is { } manager)
        {
            return manager;
        }

        var agent = context.Request.Headers.UserAgent.ToString();
        var slash = agent.IndexOf('/', StringComparison.Ordinal);
        var name = slash > 0 ? agent[..slash] : agent;
        return name.Length is > 0 and <= 128 ? name : "unknown";
    }

    private static string ApiVersionOf(ResourceKind kind, string version) => kind.Group.Length == 0 ? version : $"{kind.Group}/{version}";

    /// <summary>An update's body must name the object of the URL.</summary>
    private static void CheckIdentity(ResourceKind kind, string? ns, string name, JsonObject body)
    {
        var meta = ObjectRegistry.MetadataOf(body);
        if (meta["name"]?.ToString() is { Length: > 0 } sentName && sentName != name)
        {
            throw new BadRequestException($"the name of the object ({sentName}) does not match the name on the URL ({name})");
        }

        if (kind.Namespaced && !string.IsNullOrEmpty(ns) && meta["namespace"]?.ToString() is { Length: > 0 } sentNs && sentNs != ns)
        {
            throw new BadRequestException($"the namespace of the provided object ({sentNs}) does not match the namespace sent on the request ({ns})");
        }
    }

    /// <summary>The body's apiVersion and kind must be the ones of the URL.</summary>
    private static void CheckTypeMeta(ResourceKind kind, string version, JsonObject body, bool required)
    {
        var expected = kind.Group.Length == 0 ? version : $"{kind.Group}/{version}";
        var apiVersion = body["apiVersion"]?.ToString();
        var bodyKind = body["kind"]?.ToString();
        if (!string.IsNullOrEmpty(apiVersion) && apiVersion != expected)
        {
            throw new BadRequestException($"the API version in the data ({apiVersion}) does not match the expected API version ({expected})");
        }

        if (!string.IsNullOrEmpty(bodyKind) && bodyKind != kind.Kind)
        {
            throw new BadRequestException($"the kind in the data ({bodyKind}) does not match the expected kind ({kind.Kind})");
        }

        if (required && string.IsNullOrEmpty(bodyKind) && string.IsNullOrEmpty(apiVersion))
        {
            // Kubernetes fills in a missing apiVersion and kind from the URL.
            body["apiVersion"] = expected;
            body["kind"] = kind.Kind;
        }
    }

    /// <summary>Drops unknown fields; under Strict they are a 400, under Warn they become warnings.</summary>
    private static IReadOnlyList<string> CheckFields(ResourceKind kind, string version, JsonObject body, RequestOptions request)
    {
        var unknown = UnknownFields.Prune(kind, body);
        if (unknown.Count == 0 || request.FieldValidation == "Ignore")
        {
            return [];
        }

        if (request.FieldValidation == "Strict")
        {
            throw new BadRequestException($"{kind.Kind} in version \"{version}\" cannot be handled as a {kind.Kind}: strict decoding error: {string.Join(", ", unknown.Select(u => $"unknown field \"{u}\""))}");
        }

        return unknown.Select(u => $"unknown field \"{u}\"").ToList();
    }

    private static void AddWarnings(HttpContext context, IReadOnlyList<string> warnings)
    {
        foreach (var warning in warnings)
        {
            context.Response.Headers.Append("Warning", $"299 - \"{warning.Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        }
    }

    private void AfterWrite(ResourceKind kind, JsonObject obj, RequestOptions request, bool deleted = false)
    {
        if (!request.DryRun)
        {
            Written?.Invoke(kind, obj, deleted && obj["metadata"]?["deletionTimestamp"] is null);
        }
    }
}
