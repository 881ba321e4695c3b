using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.JsonPatch.SystemTextJson;
using Microsoft.AspNetCore.JsonPatch.SystemTextJson.Exceptions;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Resources.Patching;

namespace Orchestration.ApiServer.Patching;

/// <summary>RFC 6902 JSON patch (<c>application/json-patch+json</c>), applied by ASP.NET Core's JSON patch library to the object's JSON tree.</summary>
public sealed class JsonPatcher : IObjectPatcher
{
    /// <inheritdoc />
    public PatchKind Kind => PatchKind.Json;

    /// <inheritdoc />
    public object Parse(ObjectPatch patch)
    {
        ArgumentNullException.ThrowIfNull(patch);
        try
        {
            if (JsonNode.Parse(patch.Body, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) is not JsonArray operations)
            {
                throw new BadRequestException("a JSON patch must be a JSON array of operations");
            }

            for (var i = 0; i < operations.Count; i++)
            {
                // The library skips what it does not know; Kubernetes refuses it, and so does this.
                var operation = operations[i] as JsonObject ?? throw new BadRequestException($"JSON patch operation {i} is not an object");
                var op = (operation["op"] as JsonValue)?.ToString();
                if (op is not ("add" or "remove" or "replace" or "move" or "copy" or "test"))
                {
                    throw new BadRequestException($"JSON patch operation {i}: unknown op \"{op}\"; supported: add, remove, replace, move, copy, test");
                }

                if (operation["path"] is not JsonValue)
                {
                    throw new BadRequestException($"JSON patch operation {i} ({op}) has no path");
                }

                if (op is "move" or "copy" && operation["from"] is not JsonValue)
                {
                    throw new BadRequestException($"JSON patch operation {i} ({op}) has no from");
                }

                if (op is "add" or "replace" or "test" && !operation.ContainsKey("value"))
                {
                    throw new BadRequestException($"JSON patch operation {i} ({op}) has no value");
                }
            }

            return JsonSerializer.Deserialize<JsonPatchDocument>(patch.Body) ?? throw new BadRequestException("the JSON patch is empty");
        }
        catch (JsonException ex)
        {
            throw new BadRequestException($"the JSON patch is not valid: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public JsonObject Apply(ResourceKind kind, JsonObject current, object parsed, ObjectPatch patch)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        var document = (JsonPatchDocument)parsed;
        try
        {
            document.ApplyTo(current);
        }
        catch (Exception ex) when (ex is JsonPatchException or ArgumentException or InvalidOperationException)
        {
            // A failed "test" or a path that does not exist: Kubernetes answers 422.
            throw new ClusterApiException(422, "Invalid", $"the JSON patch cannot be applied: {ex.Message}", innerException: ex);
        }

        return current;
    }
}
