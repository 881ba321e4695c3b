using Orchestration.Client;

namespace Orchestration.ApiServer.Serialization;

/// <summary>The errors of the HTTP layer, as Kubernetes words them.</summary>
public static class ApiErrors
{
    /// <summary>413: the body is larger than the server takes.</summary>
    public static ClusterApiException TooLarge(long limit) =>
        new(413, "RequestEntityTooLarge", $"Request entity too large: limit is {limit}");

    /// <summary>415: the body's content type is not one the verb reads.</summary>
    public static ClusterApiException UnsupportedMediaType(string? contentType, IEnumerable<string> supported) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: {string.Join(", ", supported)} (got \"{contentType}\")");

    /// <summary>405: the resource does not support the verb.</summary>
    public static ClusterApiException MethodNotAllowed(string method, string what) =>
        new(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource ({method} {what})");

    /// <summary>404: no such resource type.</summary>
    public static ClusterApiException UnknownResource(string path) =>
        new(404, "NotFound", $"the server could not find the requested resource ({path})");

    /// <summary>401: no credentials or ones the server does not trust.</summary>
    public static ClusterApiException Unauthorized() => new(401, "Unauthorized", "Unauthorized");

    /// <summary>406: the client accepts no format the server writes.</summary>
    public static ClusterApiException NotAcceptable(string? accept) =>
        new(406, "NotAcceptable", $"only the following media types are accepted: application/json, application/yaml, application/json;as=Table;g=meta.k8s.io;v=v1 (got \"{accept}\")");
}
