using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orchestration.ApiServer.Discovery;
using Orchestration.ApiServer.Handlers;
using Orchestration.ApiServer.OpenApi;
using Orchestration.ApiServer.Serialization;

namespace Orchestration.ApiServer.Hosting;

/// <summary>Maps the Kubernetes API's paths onto an ASP.NET Core app.</summary>
public static class KubernetesApiEndpoints
{
    private static readonly string[] AnyMethod = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>
    /// Maps <c>/version</c>, health, discovery, OpenAPI and the resource paths
    /// (<c>/api/v1/...</c>, <c>/apis/{group}/{version}/...</c>), served by the API server's parts in
    /// <paramref name="services"/> (by default the app's own; a master host's when the app only carries the web server).
    /// </summary>
    public static IEndpointRouteBuilder MapKubernetesApi(this IEndpointRouteBuilder endpoints, IServiceProvider? services = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        services ??= endpoints.ServiceProvider;
        var handler = services.GetRequiredService<ResourceHandler>();
        var discovery = services.GetRequiredService<DiscoveryDocuments>();
        var openApi = services.GetRequiredService<OpenApiDocuments>();
        var options = services.GetRequiredService<IOptions<ApiServerOptions>>().Value;

        endpoints.MapGet("/version", context => ApiJson.WriteAsync(context, 200, VersionInfo(options)));
        foreach (var health in new[] { "/healthz", "/livez", "/readyz" })
        {
            endpoints.MapGet(health, context => context.Response.WriteAsync("ok", context.RequestAborted));
        }

        endpoints.MapGet("/api", context => DiscoveryDocuments.AggregatedVersion(context.Request) is { } v
            ? ApiJson.WriteAsync(context, 200, discovery.Aggregated(core: true, v), DiscoveryDocuments.AggregatedContentType(v))
            : ApiJson.WriteAsync(context, 200, DiscoveryDocuments.CoreVersions(context.Request.Host.Value ?? "localhost")));
        endpoints.MapGet("/apis", context => DiscoveryDocuments.AggregatedVersion(context.Request) is { } v
            ? ApiJson.WriteAsync(context, 200, discovery.Aggregated(core: false, v), DiscoveryDocuments.AggregatedContentType(v))
            : ApiJson.WriteAsync(context, 200, discovery.Groups()));
        endpoints.MapGet("/api/v1", context => WriteOr404(context, discovery.Resources("", "v1")));
        endpoints.MapGet("/apis/{group}", context => WriteOr404(context, discovery.Group((string)context.GetRouteValue("group")!)));
        endpoints.MapGet("/apis/{group}/{version}", context => WriteOr404(context, discovery.Resources((string)context.GetRouteValue("group")!, (string)context.GetRouteValue("version")!)));
        endpoints.MapMethods("/api/v1/{**rest}", AnyMethod, context => handler.HandleAsync(context, "", "v1", (string?)context.GetRouteValue("rest") ?? ""));
        endpoints.MapMethods("/apis/{group}/{version}/{**rest}", AnyMethod, context =>
            handler.HandleAsync(context, (string)context.GetRouteValue("group")!, (string)context.GetRouteValue("version")!, (string?)context.GetRouteValue("rest") ?? ""));

        endpoints.MapGet("/openapi/v2", context => openApi.WriteV2Async(context));
        endpoints.MapGet("/openapi/v3", context => openApi.WriteV3IndexAsync(context));
        endpoints.MapGet("/openapi/v3/{**path}", context => openApi.WriteV3Async(context, (string?)context.GetRouteValue("path") ?? ""));
        return endpoints;
    }

    /// <summary>Answers every path the API does not serve with a 404 Status rather than an empty body.</summary>
    public static IApplicationBuilder UseKubernetesNotFound(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            await next(context).ConfigureAwait(false);
            if (context.Response.StatusCode == 404 && !context.Response.HasStarted)
            {
                await ApiJson.WriteErrorAsync(context, ApiErrors.UnknownResource(context.Request.Path)).ConfigureAwait(false);
            }
            else if (context.Response.StatusCode == 405 && !context.Response.HasStarted)
            {
                await ApiJson.WriteErrorAsync(context, ApiErrors.MethodNotAllowed(context.Request.Method, context.Request.Path)).ConfigureAwait(false);
            }
        });

    private static Task WriteOr404(HttpContext context, JsonObject? document) =>
        document is null
            ? ApiJson.WriteErrorAsync(context, ApiErrors.UnknownResource(context.Request.Path))
            : ApiJson.WriteAsync(context, 200, document);

    private static JsonObject VersionInfo(ApiServerOptions options)
    {
        var parts = options.GitVersion.TrimStart('v').Split('.', '-');
        return new JsonObject
        {
            ["major"] = parts.ElementAtOrDefault(0) ?? "1",
            ["minor"] = parts.ElementAtOrDefault(1) ?? "0",
            ["gitVersion"] = options.GitVersion,
            ["gitCommit"] = "",
            ["gitTreeState"] = "clean",
            ["buildDate"] = "2026-01-01T00:00:00Z",
            ["goVersion"] = $".NET {Environment.Version}",
            ["compiler"] = "dotnet",
            ["platform"] = $"{(OperatingSystem.IsLinux() ? "linux" : "other")}/{System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}",
        };
    }
}
