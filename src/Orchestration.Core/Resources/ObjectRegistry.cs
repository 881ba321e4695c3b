using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.Resources;

/// <summary>
/// Cluster objects over an <see cref="IStateStore"/>: the only place that knows store keys
/// (<c>/registry/&lt;group&gt;/&lt;resource&gt;/&lt;namespace&gt;/&lt;name&gt;</c>) and the encoding
/// (Kubernetes JSON without the resourceVersion, which is the key's mod revision).
/// </summary>
/// <remarks>
/// It applies the object rules every write path shares: names are checked (DNS-1123), uid,
/// creationTimestamp and generation are the server's; a stale resourceVersion is a conflict,
/// never a silent overwrite; an object with finalizers is only marked for deletion.
/// </remarks>
public sealed partial class ObjectRegistry(IStateStore store, ResourceKindTable kinds, TimeProvider timeProvider)
{
    private const int MaxRetries = 16;
    private const string GenerateNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

    /// <summary>The kinds this registry serves.</summary>
    public ResourceKindTable Kinds { get; } = kinds;

    /// <summary>The store key of one object.</summary>
    public static string KeyFor(ResourceKind kind, string? @namespace, string name) => PrefixFor(kind, @namespace) + name;

    /// <summary>The store prefix of a kind's objects, in one namespace or (null) all.</summary>
    public static string PrefixFor(ResourceKind kind, string? @namespace) =>
        kind.Namespaced && @namespace is not null
            ? $"/registry/{kind.StoreGroup}/{kind.Plural}/{@namespace}/"
            : $"/registry/{kind.StoreGroup}/{kind.Plural}/";

    /// <summary>Reads one object.</summary>
    public async Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var kind = Kinds.For<T>();
        var ns = NamespaceOf(kind, @namespace);
        var kv = await store.GetAsync(KeyFor(kind, ns, name), 0, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException(kind.Group, kind.Plural, name);
        return Decode<T>(kv);
    }

    /// <summary>Creates an object.</summary>
    public async Task<T> CreateAsync<T>(T obj, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var kind = Kinds.For<T>();
        var meta = obj.Metadata ??= new V1ObjectMeta();
        if (!string.IsNullOrEmpty(meta.ResourceVersion))
        {
            throw new BadRequestException("resourceVersion should not be set on objects to be created");
        }

        meta.NamespaceProperty = NamespaceOf(kind, meta.NamespaceProperty);
        obj.ApiVersion = kind.ApiVersion;
        obj.Kind = kind.Kind;
        var generated = string.IsNullOrEmpty(meta.Name) && !string.IsNullOrEmpty(meta.GenerateName);
        for (var attempt = 0; ; attempt++)
        {
            if (generated)
            {
                meta.Name = meta.GenerateName + RandomSuffix();
            }

            Validate(kind, obj);
            meta.Uid = Guid.NewGuid().ToString();
            meta.CreationTimestamp = timeProvider.GetUtcNow().UtcDateTime;
            meta.Generation = 1;
            meta.DeletionTimestamp = null;
            var write = await store.CreateAsync(KeyFor(kind, meta.NamespaceProperty, meta.Name), Encode(obj), 0, cancellationToken).ConfigureAwait(false);
            if (write.Succeeded)
            {
                return Decode<T>(write.Current!);
            }

            if (!generated || attempt == MaxRetries)
            {
                throw new AlreadyExistsException(kind.Group, kind.Plural, meta.Name);
            }
        }
    }

    /// <summary>Replaces an object, or with <paramref name="statusOnly"/> only its status.</summary>
    public async Task<T> UpdateAsync<T>(T obj, bool statusOnly, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var kind = Kinds.For<T>();
        var meta = obj.Metadata ?? throw new BadRequestException("metadata is required");
        var ns = NamespaceOf(kind, meta.NamespaceProperty);
        var name = string.IsNullOrEmpty(meta.Name) ? throw Invalid(kind, "", Required("metadata.name", "name is required")) : meta.Name;
        var expected = ParseResourceVersion(meta.ResourceVersion);
        var key = KeyFor(kind, ns, name);
        for (var attempt = 0; ; attempt++)
        {
            var current = await store.GetAsync(key, 0, cancellationToken).ConfigureAwait(false)
                ?? throw new NotFoundException(kind.Group, kind.Plural, name);
            if (expected is { } rv && rv != current.ModRevision)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, ConflictException.Modified);
            }

            var old = ParseStored(current);
            var next = statusOnly ? WithStatus(old, ToNode(obj)) : Merged(kind, old, ToNode(obj));
            var updated = Deserialize<T>(next, current.ModRevision);
            Validate(kind, updated);
            var write = updated.Metadata.DeletionTimestamp is not null && (updated.Metadata.Finalizers?.Count ?? 0) == 0
                ? await store.DeleteAsync(key, current.ModRevision, cancellationToken).ConfigureAwait(false)
                : await store.UpdateAsync(key, Encoding.UTF8.GetBytes(WithoutResourceVersion(next)), current.ModRevision, 0, cancellationToken).ConfigureAwait(false);
            if (write.Succeeded)
            {
                return write.Current is { } written ? Decode<T>(written) : WithResourceVersion(updated, write.Revision);
            }

            if (expected is not null || attempt == MaxRetries)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, ConflictException.Modified);
            }
        }
    }

    /// <summary>Applies a patch to the current object and writes the result.</summary>
    public async Task<T> PatchAsync<T>(string? @namespace, string name, ObjectPatch patch, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(patch);
        var kind = Kinds.For<T>();
        if (patch.Kind != PatchKind.Merge)
        {
            throw new BadRequestException($"patch kind {patch.Kind} is not supported here");
        }

        JsonNode? patchNode;
        try
        {
            patchNode = JsonNode.Parse(patch.Body);
        }
        catch (JsonException ex)
        {
            throw new BadRequestException($"the patch is not valid JSON: {ex.Message}", ex);
        }

        if (patchNode is not JsonObject)
        {
            throw new BadRequestException("a merge patch must be a JSON object");
        }

        var pinned = patchNode["metadata"]?["resourceVersion"] is not null;
        for (var attempt = 0; ; attempt++)
        {
            var current = await GetAsync<T>(@namespace, name, cancellationToken).ConfigureAwait(false);
            var patched = MergePatch.Apply(ToNode(current), patchNode)!;
            T result;
            try
            {
                result = KubernetesJson.Deserialize<T>(patched.ToJsonString());
            }
            catch (JsonException ex)
            {
                throw new BadRequestException($"the patched {kind.Kind} is not valid: {ex.Message}", ex);
            }

            try
            {
                return await UpdateAsync(result, statusOnly: false, cancellationToken).ConfigureAwait(false);
            }
            catch (ConflictException) when (!pinned && attempt < MaxRetries)
            {
                // Someone wrote in between: patch the newer object.
            }
        }
    }

    /// <summary>Deletes an object, or marks it when finalizers hold it.</summary>
    public async Task<T> DeleteAsync<T>(string? @namespace, string name, DeleteOptions? options, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var kind = Kinds.For<T>();
        var key = KeyFor(kind, NamespaceOf(kind, @namespace), name);
        for (var attempt = 0; ; attempt++)
        {
            var current = await store.GetAsync(key, 0, cancellationToken).ConfigureAwait(false)
                ?? throw new NotFoundException(kind.Group, kind.Plural, name);
            var obj = Decode<T>(current);
            if (options?.PreconditionUid is { } uid && uid != obj.Metadata.Uid)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {obj.Metadata.Uid}");
            }

            if (options?.PreconditionResourceVersion is { } rv && rv != obj.Metadata.ResourceVersion)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, $"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {obj.Metadata.ResourceVersion}");
            }

            WriteResult write;
            if (obj.Metadata.Finalizers is { Count: > 0 })
            {
                if (obj.Metadata.DeletionTimestamp is not null)
                {
                    return obj;
                }

                obj.Metadata.DeletionTimestamp = timeProvider.GetUtcNow().UtcDateTime;
                obj.Metadata.DeletionGracePeriodSeconds = 0;
                write = await store.UpdateAsync(key, Encode(obj), current.ModRevision, 0, cancellationToken).ConfigureAwait(false);
                if (write.Succeeded)
                {
                    return Decode<T>(write.Current!);
                }
            }
            else
            {
                write = await store.DeleteAsync(key, current.ModRevision, cancellationToken).ConfigureAwait(false);
                if (write.Succeeded)
                {
                    return WithResourceVersion(obj, write.Revision);
                }
            }

            if (attempt == MaxRetries)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, ConflictException.Modified);
            }
        }
    }

    private static string RandomSuffix() =>
        string.Create(5, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = GenerateNameAlphabet[Random.Shared.Next(GenerateNameAlphabet.Length)];
            }
        });

    private static string? NamespaceOf(ResourceKind kind, string? @namespace) =>
        kind.Namespaced ? (string.IsNullOrEmpty(@namespace) ? "default" : @namespace) : null;

    private static long? ParseResourceVersion(string? resourceVersion)
    {
        if (string.IsNullOrEmpty(resourceVersion))
        {
            return null;
        }

        return long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new BadRequestException($"resourceVersion \"{resourceVersion}\" is not a valid resource version");
    }
}
