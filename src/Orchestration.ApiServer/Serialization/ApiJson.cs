using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Serialization;

/// <summary>Writes API responses: JSON objects, and errors as Kubernetes <c>Status</c> objects.</summary>
public static class ApiJson
{
    /// <summary>The JSON media type.</summary>
    public const string JsonMediaType = "application/json";

    /// <summary>Writes a JSON body with a status code.</summary>
    public static async Task WriteAsync(HttpContext context, int statusCode, JsonNode body, string contentType = JsonMediaType)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = statusCode;
        if (WantsYaml(context.Request))
        {
            context.Response.ContentType = "application/yaml";
            await context.Response.WriteAsync(YamlDocuments.ToYaml(body), context.RequestAborted).ConfigureAwait(false);
            return;
        }

        context.Response.ContentType = contentType;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body);
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Writes an error as a Status object with its code.</summary>
    public static Task WriteErrorAsync(HttpContext context, ClusterApiException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return WriteAsync(context, error.Code, StatusOf(error));
    }

    /// <summary>An error as a Status object (the model's own converter only reads Status objects).</summary>
    public static JsonObject StatusOf(ClusterApiException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = error.Message,
            ["reason"] = error.Reason,
            ["code"] = error.Code,
        };
        var details = error.Details is { } d ? ObjectConversion.ToNode(d) : null;
        if (error.Causes.Count > 0)
        {
            details ??= [];
            details["causes"] = new JsonArray(error.Causes.Select(c => (JsonNode)ObjectConversion.ToNode(c)).ToArray());
        }

        if (details is not null)
        {
            status["details"] = details;
        }

        return status;
    }

    /// <summary>A success Status object.</summary>
    public static JsonObject Success() =>
        new() { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Success" };

    /// <summary>Serializes to compact UTF-8 JSON.</summary>
    public static byte[] ToUtf8(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node);

    private static bool WantsYaml(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        return accept.StartsWith("application/yaml", StringComparison.OrdinalIgnoreCase) && !accept.Contains("json", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The UTF-8 text of a body.</summary>
    public static string Text(byte[] body) => Encoding.UTF8.GetString(body);
}
