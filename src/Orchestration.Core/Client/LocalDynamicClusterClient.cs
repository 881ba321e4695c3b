using System.Text.Json.Nodes;
using Orchestration.Resources;

namespace Orchestration.Client;

/// <summary><see cref="IDynamicClusterClient"/> straight over the registry, in process.</summary>
public sealed class LocalDynamicClusterClient(ObjectRegistry registry) : IDynamicClusterClient
{
    /// <inheritdoc />
    public Task<IReadOnlyList<ResourceKind>> KindsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ResourceKind>>([.. registry.Kinds.Kinds]);

    /// <inheritdoc />
    public Task<JsonObject> GetAsync(ResourceKind kind, string? @namespace, string name, CancellationToken cancellationToken) =>
        registry.GetAsync(kind, @namespace, name, cancellationToken);

    /// <inheritdoc />
    public Task<ObjectList<JsonObject>> ListAsync(ResourceKind kind, string? @namespace, ListOptions? options, CancellationToken cancellationToken) =>
        registry.ListAsync(kind, @namespace, options, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<ObjectEvent<JsonObject>> WatchAsync(ResourceKind kind, string? @namespace, WatchOptions? options, CancellationToken cancellationToken) =>
        registry.WatchAsync(kind, @namespace, options, cancellationToken);

    /// <inheritdoc />
    public Task<JsonObject> UpdateAsync(ResourceKind kind, JsonObject obj, string? subresource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        var meta = obj["metadata"] as JsonObject ?? [];
        return registry.UpdateAsync(kind, meta["namespace"]?.ToString(), meta["name"]?.ToString() ?? "", obj, statusOnly: subresource == "status", null, cancellationToken);
    }

    /// <inheritdoc />
    public Task<JsonObject> DeleteAsync(ResourceKind kind, string? @namespace, string name, DeleteOptions? options, CancellationToken cancellationToken) =>
        registry.DeleteAsync(kind, @namespace, name, options, null, cancellationToken);
}
