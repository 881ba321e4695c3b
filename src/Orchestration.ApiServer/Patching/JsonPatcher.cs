using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.JsonPatch.SystemTextJson;
using Microsoft.AspNetCore.JsonPatch.SystemTextJson.Exceptions;
using Orchestration.Client;
using Orchestration.Resources;

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
            if (JsonNode.Parse(patch.Body) is not JsonArray)
            {
                throw new BadRequestException("a JSON patch must be a JSON array of operations");
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
        catch (JsonPatchException ex)
        {
            // A failed "test" or a path that does not exist: Kubernetes answers 422.
            throw new ClusterApiException(422, "Invalid", $"the JSON patch cannot be applied: {ex.Message}", innerException: ex);
        }

        return current;
    }
}
