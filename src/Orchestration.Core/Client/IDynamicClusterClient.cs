using System.Text.Json.Nodes;
using Orchestration.Resources;

namespace Orchestration.Client;

/// <summary>
/// Reads and writes objects of any kind, built in or custom, as JSON trees: what kind-agnostic
/// controllers (the garbage collector, the namespace controller) need, over the local registry or a
/// remote API server alike.
/// </summary>
public interface IDynamicClusterClient
{
    /// <summary>Every kind served now, custom ones included.</summary>
    Task<IReadOnlyList<ResourceKind>> KindsAsync(CancellationToken cancellationToken);

    /// <summary>Gets one object.</summary>
    /// <exception cref="NotFoundException">No such object.</exception>
    Task<JsonObject> GetAsync(ResourceKind kind, string? @namespace, string name, CancellationToken cancellationToken);

    /// <summary>Lists the objects of a kind in one namespace or (null) all.</summary>
    Task<ObjectList<JsonObject>> ListAsync(ResourceKind kind, string? @namespace, ListOptions? options, CancellationToken cancellationToken);

    /// <summary>Watches a kind, as <see cref="IClusterWatcher.WatchAsync{T}"/> does.</summary>
    IAsyncEnumerable<ObjectEvent<JsonObject>> WatchAsync(ResourceKind kind, string? @namespace, WatchOptions? options, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces an object, only if its <c>metadata.resourceVersion</c> is still current; with
    /// <paramref name="subresource"/> (<c>finalize</c>), through that subresource.
    /// </summary>
    /// <exception cref="ConflictException">The object changed meanwhile.</exception>
    Task<JsonObject> UpdateAsync(ResourceKind kind, JsonObject obj, string? subresource, CancellationToken cancellationToken);

    /// <summary>Deletes an object (or marks it, when it has finalizers).</summary>
    Task<JsonObject> DeleteAsync(ResourceKind kind, string? @namespace, string name, DeleteOptions? options, CancellationToken cancellationToken);
}

/// <summary>Read-change-write on top of <see cref="IDynamicClusterClient"/>.</summary>
public static class DynamicClusterClientExtensions
{
    /// <summary>
    /// Reads an object, applies <paramref name="change"/> and writes it back, reading again when it
    /// changed meanwhile; a change that returns null means there is nothing to write.
    /// </summary>
    /// <exception cref="NotFoundException">The object is gone.</exception>
    public static async Task<JsonObject?> MutateAsync(this IDynamicClusterClient client, ResourceKind kind, string? @namespace, string name, Func<JsonObject, JsonObject?> change, string? subresource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(change);
        for (var attempt = 0; ; attempt++)
        {
            var current = await client.GetAsync(kind, @namespace, name, cancellationToken).ConfigureAwait(false);
            if (change(current) is not { } changed)
            {
                return null;
            }

            try
            {
                return await client.UpdateAsync(kind, changed, subresource, cancellationToken).ConfigureAwait(false);
            }
            catch (ConflictException) when (attempt < 10)
            {
                // Changed between the read and the write: read again.
            }
        }
    }
}
