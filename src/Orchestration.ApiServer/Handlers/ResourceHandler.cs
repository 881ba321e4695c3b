using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.ApiServer.Hosting;
using Orchestration.ApiServer.Routing;
using Orchestration.ApiServer.Serialization;
using Orchestration.ApiServer.Tables;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Handlers;

/// <summary>
/// Serves the resource verbs (get, list, watch, create, update, patch, delete, deletecollection)
/// and subresources of every kind in the registry's table, routed by <see cref="ResourcePath"/>.
/// Every failure leaves as a Status object with its code; nothing a client sends makes it a 500.
/// </summary>
public sealed partial class ResourceHandler(
    ObjectRegistry registry,
    TableConverter tables,
    Proxy.PodConnections podConnections,
    Security.Authorization.RequestAuthorization authorization,
    IEnumerable<Security.Authorization.IRuleResolver> ruleResolvers,
    Security.Tokens.ServiceAccountTokens tokens,
    Security.Tokens.TokenAuthenticators tokenAuthenticators,
    IOptions<ApiServerOptions> options,
    TimeProvider timeProvider,
    ILogger<ResourceHandler> logger)
{
    private readonly ApiServerOptions _options = options.Value;

    /// <summary>Handles one request under <c>/api/v1</c> or <c>/apis/{group}/{version}</c>.</summary>
    public async Task HandleAsync(HttpContext context, string group, string version, string rest)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            var path = ResourcePath.Parse(group, version, rest) ?? throw ApiErrors.UnknownResource(context.Request.Path);
            var kind = registry.Kinds.Find(group, path.Resource);
            if (kind is null || !kind.ServedVersions.Contains(version))
            {
                throw ApiErrors.UnknownResource(context.Request.Path);
            }

            if (!kind.Namespaced && path.Namespace is not null)
            {
                throw ApiErrors.UnknownResource(context.Request.Path);
            }

            if (Reviews.Answers(kind))
            {
                await Reviews.HandleAsync(context, kind, version, path, _options.MaxRequestBodyBytes, authorization, ruleResolvers, tokenAuthenticators).ConfigureAwait(false);
                return;
            }

            var request = RequestOptions.Read(context.Request);
            if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            {
                // A write's admission plugins see who asks, and their warnings (PodSecurity's warn
                // mode) go out as Warning headers; reads need neither.
                var user = Reviews.UserOf(context);
                var warnings = new List<string>();
                request.User = new RequestUser(user.Name, user.Groups, user.Uid);
                request.Warnings = warnings;
                request.AuditAnnotations = context.Features.Get<Security.Audit.AuditAnnotations>()?.Values;
                context.Response.OnStarting(() =>
                {
                    AddWarnings(context, warnings);
                    return Task.CompletedTask;
                });
            }

            await DispatchAsync(context, kind, version, path, request).ConfigureAwait(false);
        }
        catch (ClusterApiException ex)
        {
            await WriteErrorAsync(context, ex).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception ex) when (ex is State.StoreUnavailableException or State.StoreClosedException)
        {
            LogStoreUnavailable(ex, context.Request.Method, context.Request.Path);
            await WriteErrorAsync(context, new ClusterApiException(503, "ServiceUnavailable", $"the state store is unavailable: {ex.Message}")).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is State.InvalidStateRequestException)
        {
            await WriteErrorAsync(context, new BadRequestException(ex.Message, ex)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or ArgumentException or System.Text.Json.JsonException or InvalidCastException or OverflowException or KeyNotFoundException or IndexOutOfRangeException
            && !context.RequestAborted.IsCancellationRequested)
        {
            // Input of a shape no check above foresaw (a string where an object belongs): the
            // client's to fix, so a 400 that says what broke; logged so the check can be added.
            LogUnexpectedInput(ex, context.Request.Method, context.Request.Path);
            await WriteErrorAsync(context, new BadRequestException($"the request could not be processed: {ex.Message}", ex)).ConfigureAwait(false);
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            // A defect of ours: still a Status object, logged with the request that found it.
            LogRequestFailed(ex, context.Request.Method, context.Request.Path);
            await WriteErrorAsync(context, new ClusterApiException(500, "InternalError", $"an internal error occurred: {ex.Message}")).ConfigureAwait(false);
        }
    }

    private Task DispatchAsync(HttpContext context, ResourceKind kind, string version, ResourcePath path, RequestOptions request)
    {
        var method = context.Request.Method;
        if (path.Subresource is { } sub)
        {
            return SubresourceAsync(context, kind, version, path, sub, request);
        }

        return (method, path.Name) switch
        {
            ("GET", null) when request.Flag("watch") => WatchAsync(context, kind, version, path, request),
            ("GET", null) => ListAsync(context, kind, version, path, request),
            ("GET", { } name) => GetAsync(context, kind, version, path.Namespace, name),
            ("POST", null) => CreateAsync(context, kind, version, path, request),
            ("PUT", { } name) => UpdateAsync(context, kind, version, path.Namespace, name, statusOnly: false, request),
            ("PATCH", { } name) => PatchAsync(context, kind, version, path.Namespace, name, statusOnly: false, request),
            ("DELETE", { } name) => DeleteAsync(context, kind, version, path.Namespace, name, request),
            ("DELETE", null) => DeleteCollectionAsync(context, kind, version, path, request),
            _ => throw ApiErrors.MethodNotAllowed(method, path.Name is null ? $"the {kind.Plural} collection" : $"{kind.Plural} \"{path.Name}\""),
        };
    }

    private async Task WriteErrorAsync(HttpContext context, ClusterApiException error)
    {
        if (context.Response.HasStarted)
        {
            // A watch stream already running: say it in the stream, as Kubernetes does.
            var evt = new JsonObject { ["type"] = "ERROR", ["object"] = ApiJson.StatusOf(error) };
            await context.Response.Body.WriteAsync(ApiJson.ToUtf8(evt), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        await ApiJson.WriteErrorAsync(context, error).ConfigureAwait(false);
    }

    /// <summary>The object as served at the requested version (objects are stored at one version; no conversion is needed between the versions this server serves).</summary>
    private static JsonObject AtVersion(ResourceKind kind, string version, JsonObject obj)
    {
        if (version != kind.Version)
        {
            obj["apiVersion"] = kind.Group.Length == 0 ? version : $"{kind.Group}/{version}";
        }

        return obj;
    }

    private static string Describe(ResourceKind kind, string? name) =>
        name is null ? kind.Plural : $"{kind.Plural} \"{name}\"";

    [LoggerMessage(EventId = 2010, Level = LogLevel.Warning, Message = "The state store is unavailable for {Method} {Path}")]
    private partial void LogStoreUnavailable(Exception ex, string method, PathString path);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "{Method} {Path}: input the handlers did not expect")]
    private partial void LogUnexpectedInput(Exception ex, string method, PathString path);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private partial void LogRequestFailed(Exception ex, string method, PathString path);
}
