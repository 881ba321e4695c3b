using k8s;
using k8s.Models;
using Orchestration.Resources;

namespace Orchestration.Client;

/// <summary>
/// The in-process <see cref="IClusterClient"/>: calls go straight to the <see cref="ObjectRegistry"/>
/// over the local state store, with the same rules and errors as the API server.
/// </summary>
public sealed class LocalClusterClient(ObjectRegistry registry) : IClusterClient
{
    /// <inheritdoc />
    public Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.GetAsync<T>(@namespace, name, cancellationToken);

    /// <inheritdoc />
    public Task<ObjectList<T>> ListAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.ListAsync<T>(@namespace, options, cancellationToken);

    /// <inheritdoc />
    public Task<T> CreateAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.CreateAsync(obj, cancellationToken);

    /// <inheritdoc />
    public Task<T> UpdateAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.UpdateAsync(obj, statusOnly: false, cancellationToken);

    /// <inheritdoc />
    public Task<T> UpdateStatusAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.UpdateAsync(obj, statusOnly: true, cancellationToken);

    /// <inheritdoc />
    public Task<T> PatchAsync<T>(string? @namespace, string name, ObjectPatch patch, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.PatchAsync<T>(@namespace, name, patch, cancellationToken);

    /// <inheritdoc />
    public Task<T> DeleteAsync<T>(string? @namespace, string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.DeleteAsync<T>(@namespace, name, options, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<ObjectEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => registry.WatchAsync<T>(@namespace, options, cancellationToken);

    /// <inheritdoc />
    public Task BindAsync(string? @namespace, string podName, string nodeName, CancellationToken cancellationToken = default) =>
        registry.BindPodAsync(@namespace, podName, nodeName, null, cancellationToken);
}
