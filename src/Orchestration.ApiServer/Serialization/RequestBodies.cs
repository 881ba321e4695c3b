using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.Client;

namespace Orchestration.ApiServer.Serialization;

/// <summary>Reads request bodies within the size limit, in the formats the API takes.</summary>
public static class RequestBodies
{
    private const string ProtobufMediaType = "application/vnd.kubernetes.protobuf";
    private static readonly string[] ObjectMediaTypes = ["application/json", "application/yaml", ProtobufMediaType];

    /// <summary>The raw body, refusing one over <paramref name="limit"/> bytes with 413.</summary>
    public static async Task<byte[]> ReadAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > limit)
        {
            throw ApiErrors.TooLarge(limit);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            var read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + read > limit)
            {
                throw ApiErrors.TooLarge(limit);
            }

            buffer.Write(chunk, 0, read);
        }
    }

    /// <summary>The media type of the body, without parameters, lowercase; empty when none was sent.</summary>
    public static string MediaType(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var contentType = request.ContentType ?? "";
        var semicolon = contentType.IndexOf(';');
        return (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim().ToLowerInvariant();
    }

    /// <summary>Reads an object body (JSON or YAML); 415 for other formats, 400 when it does not parse to an object.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpRequest request, long limit, CancellationToken cancellationToken)
    {
        var mediaType = MediaType(request);
        if (mediaType is not ("" or "application/json" or "application/yaml" or "text/yaml" or "application/x-yaml" or ProtobufMediaType))
        {
            throw ApiErrors.UnsupportedMediaType(request.ContentType, ObjectMediaTypes);
        }

        var body = await ReadAsync(request, limit, cancellationToken).ConfigureAwait(false);
        return mediaType == ProtobufMediaType
            ? ProtobufObjects.Decode(body)
            : ParseObject(body, yaml: mediaType.Contains("yaml", StringComparison.Ordinal));
    }

    /// <summary>Parses an object from JSON or YAML text.</summary>
    public static JsonObject ParseObject(byte[] body, bool yaml)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (body.Length == 0)
        {
            throw new BadRequestException("the request body is empty; send the object as JSON or YAML");
        }

        JsonNode? node;
        if (yaml)
        {
            node = YamlDocuments.Parse(ApiJson.Text(body));
        }
        else
        {
            // The parser reads strings lazily: invalid UTF-8 inside one would only fail (as a 500)
            // when a field is read. A JSON text must be UTF-8 throughout.
            if (!System.Text.Unicode.Utf8.IsValid(body))
            {
                throw new BadRequestException("the request body is not valid JSON: it is not valid UTF-8 text");
            }

            try
            {
                node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 256, AllowDuplicateProperties = false });
            }
            catch (JsonException ex)
            {
                throw new BadRequestException($"the request body is not valid JSON: {ex.Message}", ex);
            }
        }

        return node as JsonObject ?? throw new BadRequestException("the request body must be a JSON object");
    }
}
