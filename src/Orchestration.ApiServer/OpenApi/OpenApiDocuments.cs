using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Orchestration.ApiServer.Hosting;
using Orchestration.ApiServer.Serialization;
using Orchestration.Resources;

namespace Orchestration.ApiServer.OpenApi;

/// <summary>
/// The OpenAPI documents of the served kinds, generated from the kind table and the model types:
/// v2 (<c>/openapi/v2</c>, JSON) and v3 (<c>/openapi/v3</c>, an index of one document per
/// group-version). The PATCH operations list the <c>fieldValidation</c> parameter, which is how
/// kubectl learns that the server validates fields itself.
/// </summary>
public sealed class OpenApiDocuments(ResourceKindTable kinds, ModelDescriptions descriptions, IOptions<ApiServerOptions> options)
{
    private readonly ConcurrentDictionary<string, (long Generation, byte[] Body)> _cache = new(StringComparer.Ordinal);

    /// <summary>Writes <c>/openapi/v2</c>; 406 when the client takes only protobuf, which this server does not write.</summary>
    public Task WriteV2Async(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var accept = context.Request.Headers.Accept.ToString();
        if (accept.Contains("protobuf", StringComparison.OrdinalIgnoreCase) && !accept.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            // kubectl asks for v2 in protobuf only. This server describes its schemas in v3 and
            // in v2 JSON; in protobuf it answers the empty v2 document (zero bytes is a valid,
            // empty message), so kubectl's fallback finds no v2 schema instead of failing, and
            // an unknown kind ends in kubectl's own "no matches for kind" error.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/octet-stream";
            context.Response.ContentLength = 0;
            return Task.CompletedTask;
        }

        if (accept.Length > 0 && !accept.Contains("json", StringComparison.OrdinalIgnoreCase) && !accept.Contains("*/*", StringComparison.Ordinal))
        {
            return ApiJson.WriteErrorAsync(context, ApiErrors.NotAcceptable(accept));
        }

        return WriteCachedAsync(context, "v2", () => BuildV2());
    }

    /// <summary>Writes the v3 index: one entry per served group-version.</summary>
    public Task WriteV3IndexAsync(HttpContext context)
    {
        var paths = new JsonObject();
        var hash = kinds.Generation.ToString("x", CultureInfo.InvariantCulture);
        foreach (var (group, version) in GroupVersions())
        {
            var key = group.Length == 0 ? $"api/{version}" : $"apis/{group}/{version}";
            paths[key] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{key}?hash={hash}" };
        }

        return ApiJson.WriteAsync(context, 200, new JsonObject { ["paths"] = paths });
    }

    /// <summary>Writes the v3 document of one group-version (<c>api/v1</c>, <c>apis/apps/v1</c>).</summary>
    public Task WriteV3Async(HttpContext context, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parts = path.Trim('/').Split('/');
        (string Group, string Version)? gv = parts switch
        {
            ["api", var v] => ("", v),
            ["apis", var g, var v] => (g, v),
            _ => null,
        };
        if (gv is not { } target || !GroupVersions().Contains(target))
        {
            return ApiJson.WriteErrorAsync(context, ApiErrors.UnknownResource(context.Request.Path));
        }

        return WriteCachedAsync(context, "v3/" + path.Trim('/'), () => BuildV3(target.Group, target.Version));
    }

    private async Task WriteCachedAsync(HttpContext context, string key, Func<JsonObject> build)
    {
        var generation = kinds.Generation;
        if (!_cache.TryGetValue(key, out var cached) || cached.Generation != generation)
        {
            cached = (generation, ApiJson.ToUtf8(build()));
            _cache[key] = cached;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = ApiJson.JsonMediaType;
        context.Response.ContentLength = cached.Body.Length;
        await context.Response.Body.WriteAsync(cached.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private List<(string Group, string Version)> GroupVersions() =>
        kinds.Kinds.SelectMany(k => k.ServedVersions.Select(v => (k.Group, v))).Distinct().OrderBy(gv => gv.Group, StringComparer.Ordinal).ThenBy(gv => gv.v, StringComparer.Ordinal).ToList();

    private JsonObject BuildV3(string group, string version)
    {
        var builder = new SchemaBuilder(descriptions, "#/components/schemas/");
        var paths = new JsonObject();
        foreach (var kind in kinds.Kinds.Where(k => k.Group == group && k.ServedVersions.Contains(version)).OrderBy(k => k.Plural, StringComparer.Ordinal))
        {
            var schema = builder.AddKind(kind, version);
            AddPaths(paths, kind, version, schema, v3: true);
        }

        var schemas = new JsonObject();
        foreach (var (name, schema) in builder.Schemas.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            schemas[name] = schema.DeepClone();
        }

        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = options.Value.GitVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
    }

    private JsonObject BuildV2()
    {
        var builder = new SchemaBuilder(descriptions, "#/definitions/");
        var paths = new JsonObject();
        foreach (var kind in kinds.Kinds.OrderBy(k => k.Group, StringComparer.Ordinal).ThenBy(k => k.Plural, StringComparer.Ordinal))
        {
            foreach (var version in kind.ServedVersions)
            {
                AddPaths(paths, kind, version, builder.AddKind(kind, version), v3: false);
            }
        }

        var definitions = new JsonObject();
        foreach (var (name, schema) in builder.Schemas.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            definitions[name] = schema.DeepClone();
        }

        return new JsonObject
        {
            ["swagger"] = "2.0",
            ["info"] = new JsonObject { ["title"] = "Kubernetes", ["version"] = options.Value.GitVersion },
            ["paths"] = paths,
            ["definitions"] = definitions,
        };
    }

    private static void AddPaths(JsonObject paths, ResourceKind kind, string version, string schemaName, bool v3)
    {
        var root = kind.Group.Length == 0 ? $"/api/{version}" : $"/apis/{kind.Group}/{version}";
        var collection = kind.Namespaced ? $"{root}/namespaces/{{namespace}}/{kind.Plural}" : $"{root}/{kind.Plural}";
        var item = collection + "/{name}";
        var refPrefix = v3 ? "#/components/schemas/" : "#/definitions/";
        var gvk = new JsonObject { ["group"] = kind.Group, ["version"] = version, ["kind"] = kind.Kind };
        JsonObject Operation(string action, string verb, params string[] queryParameters)
        {
            var parameters = new JsonArray(queryParameters.Select(p => (JsonNode)(v3
                ? new JsonObject { ["name"] = p, ["in"] = "query", ["schema"] = new JsonObject { ["type"] = p == "force" ? "boolean" : "string", ["uniqueItems"] = true } }
                : new JsonObject { ["name"] = p, ["in"] = "query", ["type"] = p == "force" ? "boolean" : "string", ["uniqueItems"] = true })).ToArray());
            var response = v3
                ? new JsonObject { ["description"] = "OK", ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = refPrefix + schemaName } } } }
                : new JsonObject { ["description"] = "OK", ["schema"] = new JsonObject { ["$ref"] = refPrefix + schemaName } };
            return new JsonObject
            {
                ["description"] = $"{verb} {kind.Kind}",
                ["operationId"] = $"{verb}{kind.Kind}",
                ["parameters"] = parameters,
                ["responses"] = new JsonObject { ["200"] = response },
                ["x-kubernetes-action"] = action,
                ["x-kubernetes-group-version-kind"] = gvk.DeepClone(),
            };
        }

        paths[collection] = new JsonObject
        {
            ["get"] = Operation("list", "list", "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"),
            ["post"] = Operation("post", "create", "dryRun", "fieldManager", "fieldValidation"),
            ["delete"] = Operation("deletecollection", "deletecollection", "dryRun", "labelSelector", "fieldSelector"),
        };
        paths[item] = new JsonObject
        {
            ["get"] = Operation("get", "read"),
            ["put"] = Operation("put", "replace", "dryRun", "fieldManager", "fieldValidation"),
            ["patch"] = Operation("patch", "patch", "dryRun", "fieldManager", "fieldValidation", "force"),
            ["delete"] = Operation("delete", "delete", "dryRun", "gracePeriodSeconds", "propagationPolicy"),
        };
        if (kind.HasStatus)
        {
            paths[item + "/status"] = new JsonObject
            {
                ["get"] = Operation("get", "readStatus"),
                ["put"] = Operation("put", "replaceStatus", "dryRun", "fieldManager", "fieldValidation"),
                ["patch"] = Operation("patch", "patchStatus", "dryRun", "fieldManager", "fieldValidation", "force"),
            };
        }
    }
}
