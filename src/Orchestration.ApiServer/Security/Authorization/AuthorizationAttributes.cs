using Microsoft.AspNetCore.Http;
using Orchestration.ApiServer.Routing;

namespace Orchestration.ApiServer.Security.Authorization;

/// <summary>
/// What a request asks to do, as kube-apiserver's authorizers see it: a verb on a resource
/// (group, resource, subresource, namespace, name) or on a non-resource path.
/// </summary>
public sealed record AuthorizationAttributes
{
    /// <summary>Who asks.</summary>
    public required UserInfo User { get; init; }

    /// <summary>The verb: get, list, watch, create, update, patch, delete, deletecollection, or impersonate, bind, escalate, use...; for a non-resource path the lowercase HTTP method.</summary>
    public required string Verb { get; init; }

    /// <summary>Whether the request is about a resource (false: a non-resource path such as <c>/version</c>).</summary>
    public bool IsResourceRequest { get; init; }

    /// <summary>The request path.</summary>
    public string Path { get; init; } = "";

    /// <summary>The API group ("" for the core group).</summary>
    public string ApiGroup { get; init; } = "";

    /// <summary>The API version.</summary>
    public string ApiVersion { get; init; } = "";

    /// <summary>The resource (plural).</summary>
    public string Resource { get; init; } = "";

    /// <summary>The subresource, or "".</summary>
    public string Subresource { get; init; } = "";

    /// <summary>The namespace, or "" for a cluster-scope request.</summary>
    public string Namespace { get; init; } = "";

    /// <summary>The object's name, or "" for a collection.</summary>
    public string Name { get; init; } = "";

    /// <summary>The resource as rules name it: <c>pods</c> or <c>pods/log</c>.</summary>
    public string ResourceWithSubresource => Subresource.Length == 0 ? Resource : $"{Resource}/{Subresource}";

    private static readonly HashSet<string> StreamingSubresources = ["log", "exec", "attach", "portforward", "proxy"];

    /// <summary>Whether the request runs for long (a watch, logs, a stream): it holds no seat of the overload limits and its response is not kept by the audit log.</summary>
    public bool IsLongRunning => Verb == "watch" || StreamingSubresources.Contains(Subresource);

    /// <summary>
    /// The attributes of <paramref name="context"/>'s request for <paramref name="user"/>: the path is
    /// parsed once per request and kept on it, so the audit log, the seat limits and the authorizer
    /// share one parse (impersonation changes only the user).
    /// </summary>
    public static AuthorizationAttributes Of(HttpContext context, UserInfo user)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(user);
        if (context.Features.Get<AuthorizationAttributes>() is { } parsed)
        {
            return ReferenceEquals(parsed.User, user) ? parsed : parsed with { User = user };
        }

        var made = Of(context.Request, user);
        context.Features.Set(made);
        return made;
    }

    /// <summary>The attributes of an HTTP request to this server, as kube-apiserver's request-info resolver makes them.</summary>
    public static AuthorizationAttributes Of(HttpRequest request, UserInfo user)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(user);
        var path = request.Path.Value ?? "/";
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string? group = null, version = null, rest = null;
        if (parts.Length >= 3 && parts[0] == "api")
        {
            (group, version, rest) = ("", parts[1], string.Join('/', parts[2..]));
        }
        else if (parts.Length >= 4 && parts[0] == "apis")
        {
            (group, version, rest) = (parts[1], parts[2], string.Join('/', parts[3..]));
        }

        if (group is null || version is null || rest is null || ResourcePath.Parse(group, version, rest) is not { } resourcePath)
        {
            return new AuthorizationAttributes { User = user, Verb = request.Method.ToLowerInvariant(), Path = path };
        }

        var watch = request.Query["watch"] is { Count: > 0 } flag && flag[0] is "true" or "1";
        var verb = (request.Method, resourcePath.Name) switch
        {
            ("GET" or "HEAD", null) => watch ? "watch" : "list",
            ("GET" or "HEAD", _) => watch ? "watch" : "get",
            ("POST", _) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", null) => "deletecollection",
            ("DELETE", _) => "delete",
            _ => request.Method.ToLowerInvariant(),
        };

        // A namespace is itself named by the namespace segment: /api/v1/namespaces/NAME.
        var name = resourcePath.Name ?? "";
        var ns = resourcePath.Namespace ?? (resourcePath.Resource == "namespaces" ? name : "");
        return new AuthorizationAttributes
        {
            User = user,
            Verb = verb,
            IsResourceRequest = true,
            Path = path,
            ApiGroup = group,
            ApiVersion = version,
            Resource = resourcePath.Resource,
            Subresource = resourcePath.Subresource ?? "",
            Namespace = ns,
            Name = name,
        };
    }
}
