using System.Text.Json.Nodes;
using Orchestration.Client;

namespace Orchestration.Resources.Patching;

/// <summary>Applies one format of patch to an object.</summary>
public interface IObjectPatcher
{
    /// <summary>The format this patcher reads.</summary>
    PatchKind Kind { get; }

    /// <summary>Reads the patch document once, before any attempt to apply it.</summary>
    /// <exception cref="BadRequestException">The document is malformed.</exception>
    object Parse(ObjectPatch patch);

    /// <summary>The object after the patch; <paramref name="current"/> is a private copy the patcher may change.</summary>
    JsonObject Apply(ResourceKind kind, JsonObject current, object parsed, ObjectPatch patch);
}

/// <summary>The patchers a registry knows, one per <see cref="PatchKind"/>.</summary>
public sealed class ObjectPatchers
{
    private readonly Dictionary<PatchKind, IObjectPatcher> _byKind = [];

    /// <summary>Merge and strategic merge patch; JSON patch and apply are added by the layers that have them.</summary>
    public static ObjectPatchers CreateDefault() => new ObjectPatchers()
        .Add(new MergePatcher())
        .Add(new StrategicMergePatcher());

    /// <summary>Adds or replaces the patcher of a format.</summary>
    public ObjectPatchers Add(IObjectPatcher patcher)
    {
        ArgumentNullException.ThrowIfNull(patcher);
        _byKind[patcher.Kind] = patcher;
        return this;
    }

    /// <summary>The patcher of a format.</summary>
    /// <exception cref="ClusterApiException">415: no patcher reads that format here.</exception>
    public IObjectPatcher For(PatchKind kind) =>
        _byKind.TryGetValue(kind, out var patcher)
            ? patcher
            : throw new ClusterApiException(415, "UnsupportedMediaType", $"the patch format {kind} is not supported here");
}

/// <summary>RFC 7386 JSON merge patch.</summary>
public sealed class MergePatcher : IObjectPatcher
{
    /// <inheritdoc />
    public PatchKind Kind => PatchKind.Merge;

    /// <inheritdoc />
    public object Parse(ObjectPatch patch) => PatchDocuments.ParseObject(patch, "a merge patch");

    /// <inheritdoc />
    public JsonObject Apply(ResourceKind kind, JsonObject current, object parsed, ObjectPatch patch) =>
        (JsonObject)MergePatch.Apply(current, (JsonObject)parsed)!;
}

/// <summary>Kubernetes strategic merge patch: like a merge patch, but lists with a merge key merge element by element.</summary>
public sealed class StrategicMergePatcher : IObjectPatcher
{
    /// <inheritdoc />
    public PatchKind Kind => PatchKind.StrategicMerge;

    /// <inheritdoc />
    public object Parse(ObjectPatch patch) => PatchDocuments.ParseObject(patch, "a strategic merge patch");

    /// <inheritdoc />
    public JsonObject Apply(ResourceKind kind, JsonObject current, object parsed, ObjectPatch patch)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (kind.ClrType is null)
        {
            // As in Kubernetes: custom kinds have no merge keys to go by.
            throw new ClusterApiException(415, "UnsupportedMediaType", $"strategic merge patch is not supported for the custom kind {kind.Kind}; use a merge patch (--type=merge) or JSON patch");
        }

        return StrategicMerge.Apply(kind.ClrType, current, (JsonObject)parsed);
    }
}

/// <summary>Reading patch documents.</summary>
internal static class PatchDocuments
{
    public static JsonObject ParseObject(ObjectPatch patch, string what)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(patch.Body, documentOptions: new System.Text.Json.JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 256 });
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new BadRequestException($"the patch is not valid JSON: {ex.Message}", ex);
        }

        return node as JsonObject ?? throw new BadRequestException($"{what} must be a JSON object");
    }
}
