using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.Resources.Patching;
using k8s;
using k8s.Models;

namespace Orchestration.Resources;

public sealed partial class ObjectRegistry
{
    /// <summary>Reads one object.</summary>
    public async Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        ObjectConversion.ToObject<T>(await GetAsync(Kinds.For<T>(), @namespace, name, cancellationToken).ConfigureAwait(false));

    /// <summary>Creates an object.</summary>
    public async Task<T> CreateAsync<T>(T obj, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var created = await CreateAsync(Kinds.For<T>(), obj.Metadata?.NamespaceProperty, ObjectConversion.ToNode(obj), null, cancellationToken).ConfigureAwait(false);
        return ObjectConversion.ToObject<T>(created);
    }

    /// <summary>Replaces an object, or with <paramref name="statusOnly"/> only its status.</summary>
    public async Task<T> UpdateAsync<T>(T obj, bool statusOnly, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var kind = Kinds.For<T>();
        var meta = obj.Metadata ?? throw new BadRequestException("metadata is required");
        if (string.IsNullOrEmpty(meta.Name))
        {
            throw new InvalidException(kind.Group, kind.Kind, "", [new V1StatusCause { Reason = "FieldValueRequired", Field = "metadata.name", Message = "Required value: name is required" }]);
        }

        var updated = await UpdateAsync(kind, meta.NamespaceProperty, meta.Name, ObjectConversion.ToNode(obj), statusOnly, null, cancellationToken).ConfigureAwait(false);
        return ObjectConversion.ToObject<T>(updated);
    }

    /// <summary>Applies a patch to the current object and writes the result.</summary>
    public async Task<T> PatchAsync<T>(string? @namespace, string name, ObjectPatch patch, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        ObjectConversion.ToObject<T>(await PatchAsync(Kinds.For<T>(), @namespace, name, patch, statusOnly: false, null, cancellationToken).ConfigureAwait(false));

    /// <summary>Deletes an object, or marks it when finalizers hold it.</summary>
    public async Task<T> DeleteAsync<T>(string? @namespace, string name, DeleteOptions? options, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        ObjectConversion.ToObject<T>(await DeleteAsync(Kinds.For<T>(), @namespace, name, options, null, cancellationToken).ConfigureAwait(false));

    /// <summary>Lists objects as one snapshot, page by page with continue tokens.</summary>
    public async Task<ObjectList<T>> ListAsync<T>(string? @namespace, ListOptions? options, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var list = await ListAsync(Kinds.For<T>(), @namespace, options, cancellationToken).ConfigureAwait(false);
        return new ObjectList<T>(list.Items.Select(ObjectConversion.ToObject<T>).ToList(), list.ResourceVersion, list.Continue);
    }

    /// <summary>Watches objects of one kind: see <see cref="IClusterWatcher.WatchAsync{T}"/>.</summary>
    public async IAsyncEnumerable<ObjectEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        // Shared decoding: the conversion to T reads the tree without changing it, so every typed
        // watcher of a kind (a node agent each, thousands in one process) shares one decode per change.
        await foreach (var evt in WatchSharedAsync(Kinds.For<T>(), @namespace, options, cancellationToken).ConfigureAwait(false))
        {
            yield return new ObjectEvent<T>(evt.Type, ObjectConversion.ToObject<T>(evt.Object));
        }
    }

    /// <summary>
    /// Applies a patch of any <see cref="PatchKind"/> to the current object and writes the result;
    /// a concurrent write makes it patch the newer object, unless the patch pins a resourceVersion.
    /// </summary>
    public Task<JsonObject> PatchAsync(ResourceKind kind, string? @namespace, string name, ObjectPatch patch, bool statusOnly, WriteOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(patch);
        var patcher = Patchers.For(patch.Kind);
        var parsed = patcher.Parse(patch);
        return MutateAsync(kind, @namespace, name, current => patcher.Apply(kind, current, parsed, patch), statusOnly, options, cancellationToken);
    }

    /// <summary>The patch formats this registry applies; the API server adds JSON patch.</summary>
    public ObjectPatchers Patchers { get; init; } = ObjectPatchers.CreateDefault();
}
