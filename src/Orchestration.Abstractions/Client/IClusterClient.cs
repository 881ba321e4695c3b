using k8s;
using k8s.Models;

namespace Orchestration.Client;

/// <summary>Reads cluster objects.</summary>
public interface IClusterReader
{
    /// <summary>Gets one object.</summary>
    /// <param name="namespace">The namespace, or null for a cluster-scoped kind.</param>
    /// <param name="name">The object's name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="NotFoundException">No such object.</exception>
    Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;

    /// <summary>Lists objects of one kind, in one namespace or (null) all of them, as one consistent snapshot.</summary>
    /// <exception cref="GoneException">The continue token's snapshot was compacted away; list again from the start.</exception>
    Task<ObjectList<T>> ListAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;
}

/// <summary>Creates, changes and deletes cluster objects.</summary>
public interface IClusterWriter
{
    /// <summary>Creates an object; its name may come from <c>metadata.generateName</c>.</summary>
    /// <exception cref="AlreadyExistsException">An object of that name exists.</exception>
    /// <exception cref="InvalidException">A field is invalid (the causes name it).</exception>
    Task<T> CreateAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;

    /// <summary>
    /// Replaces an object (its status is kept where the kind has a status subresource). With
    /// <c>metadata.resourceVersion</c> set, only if the object was not changed since; without it,
    /// unconditionally.
    /// </summary>
    /// <exception cref="ConflictException">The resource version is stale.</exception>
    Task<T> UpdateAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;

    /// <summary>Patches an object and returns the result.</summary>
    Task<T> PatchAsync<T>(string? @namespace, string name, ObjectPatch patch, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;

    /// <summary>
    /// Deletes an object. One with finalizers is only marked (deletionTimestamp set) and is
    /// returned; it goes when its last finalizer is removed.
    /// </summary>
    /// <returns>The object as deleted, or as marked for deletion.</returns>
    Task<T> DeleteAsync<T>(string? @namespace, string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;
}

/// <summary>Writes the status subresource.</summary>
public interface IClusterStatusWriter
{
    /// <summary>Replaces an object's status only; the rest of what is sent is ignored.</summary>
    /// <exception cref="ConflictException">The resource version is stale.</exception>
    Task<T> UpdateStatusAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;
}

/// <summary>Watches cluster objects.</summary>
public interface IClusterWatcher
{
    /// <summary>
    /// Watches objects of one kind. Without a resource version it first delivers every current
    /// object as Added, then every change; with one, every change after it. An object that stops
    /// matching the selectors is delivered as Deleted, one that starts to as Added.
    /// </summary>
    /// <exception cref="GoneException">The resource version was compacted away (HTTP 410): list again.</exception>
    IAsyncEnumerable<ObjectEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>;
}

/// <summary>
/// How every component reads and writes cluster state: the same controller, scheduler or node
/// agent runs over the local implementation (in process) or a remote one (HTTP).
/// </summary>
public interface IClusterClient : IClusterReader, IClusterWriter, IClusterStatusWriter, IClusterWatcher, IPodBinder
{
}

/// <summary>Binds pods to nodes (the pods/binding subresource): what a scheduler writes.</summary>
public interface IPodBinder
{
    /// <summary>Assigns a pod to a node, once.</summary>
    /// <exception cref="ConflictException">The pod is already assigned.</exception>
    /// <exception cref="NotFoundException">There is no such pod.</exception>
    Task BindAsync(string? @namespace, string podName, string nodeName, CancellationToken cancellationToken = default);
}
