using System.Globalization;
using System.Text.Json.Nodes;
using Orchestration.Client;
using Orchestration.Resources.Admission;
using Orchestration.Resources.Strategies;
using Orchestration.State;

namespace Orchestration.Resources;

/// <summary>
/// Cluster objects over an <see cref="IStateStore"/>: the only place that knows store keys
/// (<c>/registry/&lt;group&gt;/&lt;resource&gt;/&lt;namespace&gt;/&lt;name&gt;</c>) and the encoding
/// (Kubernetes JSON without the resourceVersion, which is the key's mod revision).
/// </summary>
/// <remarks>
/// It applies the object rules every write path shares: defaults are filled in, names and the
/// fields each kind requires are checked, uid, creationTimestamp and generation are the server's; a
/// namespaced object needs its namespace to exist and not be terminating; a stale resourceVersion
/// is a conflict, never a silent overwrite; an object with finalizers is only marked for deletion.
/// Objects travel as <see cref="JsonObject"/> so custom kinds need no CLR type; the typed methods
/// convert at the edge.
/// </remarks>
public sealed partial class ObjectRegistry(IStateStore store, ResourceKindTable kinds, TimeProvider timeProvider)
{
    /// <summary>The finalizer that holds an owner until the garbage collector has deleted its dependents.</summary>
    public const string ForegroundDeletion = "foregroundDeletion";

    /// <summary>The finalizer that holds an owner until the garbage collector has orphaned its dependents.</summary>
    public const string OrphanDependents = "orphan";

    private const int MaxRetries = 16;
    private ServiceAddresses? _serviceAddresses;
    private AdmissionChain? _admission;

    /// <summary>How objects are encrypted at rest (<see cref="Resources.Encryption.StorageEncryption.None"/>: not at all).</summary>
    public Encryption.StorageEncryption Encryption { get; init; } = Resources.Encryption.StorageEncryption.None;

    /// <summary>Where Services get their cluster IPs and node ports.</summary>
    public ServiceAddressOptions ServiceAddressOptions { get; init; } = new();

    /// <summary>Each kind's defaults, server fields and checks; the built-in strategies unless DI gives others.</summary>
    public ResourceStrategies Strategies { get; init; } = ResourceStrategies.CreateDefault();

    /// <summary>The admission plugins every write passes; by default service address allocation and namespace lifecycle over this registry's store.</summary>
    public AdmissionChain Admission
    {
        get => _admission ??= AdmissionChain.CreateDefault(store, ServiceAddresses);
        init => _admission = value;
    }

    /// <summary>
    /// Whether deleting a pod that runs on a node only marks it (deletionTimestamp and grace period)
    /// so its node agent can stop its containers and then delete it, as Kubernetes does. Off by
    /// default: with it on, a pod on a node without a running agent stays until deleted with grace 0.
    /// </summary>
    public bool GracefulPodDeletion { get; init; }

    /// <summary>The allocator of Service addresses over this registry's store.</summary>
    public ServiceAddresses ServiceAddresses
    {
        get => _serviceAddresses ??= new ServiceAddresses(store, ServiceAddressOptions);
        init => _serviceAddresses = value;
    }
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
    /// <exception cref="NotFoundException">There is no such object.</exception>
    public async Task<JsonObject> GetAsync(ResourceKind kind, string? @namespace, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var kv = await store.GetAsync(KeyFor(kind, NamespaceOf(kind, @namespace), name), 0, cancellationToken).ConfigureAwait(false)
            ?? throw new NotFoundException(kind.Group, kind.Plural, name);
        return DecodeNode(kv);
    }

    /// <summary>Creates an object; <paramref name="options"/> can ask for a dry run.</summary>
    public async Task<JsonObject> CreateAsync(ResourceKind kind, string? @namespace, JsonObject obj, WriteOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        var meta = MetadataOf(obj);
        if (meta["resourceVersion"] is JsonValue rv && rv.ToString().Length > 0)
        {
            throw new BadRequestException("resourceVersion should not be set on objects to be created");
        }

        var ns = CheckNamespace(kind, @namespace, meta);
        obj["apiVersion"] = kind.ApiVersion;
        obj["kind"] = kind.Kind;
        var strategy = Strategies.For(kind);
        var generateName = meta["generateName"]?.ToString();
        var generated = string.IsNullOrEmpty(meta["name"]?.ToString()) && !string.IsNullOrEmpty(generateName);
        meta.Remove("deletionTimestamp");
        meta.Remove("deletionGracePeriodSeconds");
        var dryRun = options?.DryRun == true;
        for (var attempt = 0; ; attempt++)
        {
            if (generated)
            {
                meta["name"] = generateName + RandomSuffix();
            }

            var name = meta["name"]?.ToString() ?? "";
            var uid = Guid.NewGuid().ToString();
            meta["uid"] = uid;
            meta["creationTimestamp"] = FormatTime(timeProvider.GetUtcNow());
            meta["generation"] = 1;
            strategy.PrepareForCreate(kind, obj, name, uid);
            strategy.Default(obj);
            var admission = new AdmissionRequest(kind, AdmissionOperation.Create, ns, name, obj, null, dryRun) { User = options?.User, WarningSink = options?.Warnings, AuditAnnotationSink = options?.AuditAnnotations };
            await Admission.MutateAsync(admission, cancellationToken).ConfigureAwait(false);
            try
            {
                ObjectValidation.Validate(kind, strategy, obj, null, name);
                await Admission.ValidateAsync(admission, cancellationToken).ConfigureAwait(false);
                if (dryRun)
                {
                    if (await store.GetAsync(KeyFor(kind, ns, name), 0, cancellationToken).ConfigureAwait(false) is not null)
                    {
                        throw new AlreadyExistsException(kind.Group, kind.Plural, name);
                    }

                    return obj;
                }

                var write = await store.CreateAsync(KeyFor(kind, ns, name), Encode(KeyFor(kind, ns, name), obj), 0, cancellationToken).ConfigureAwait(false);
                if (write.Succeeded)
                {
                    await admission.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return DecodeNode(write.Current!);
                }
            }
            catch
            {
                await admission.AbortAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            await admission.AbortAsync(cancellationToken).ConfigureAwait(false);
            if (!generated || attempt == MaxRetries)
            {
                throw new AlreadyExistsException(kind.Group, kind.Plural, name);
            }
        }
    }

    /// <summary>
    /// Replaces an object, or with <paramref name="statusOnly"/> only its status. A resourceVersion
    /// in the sent object must be current (else 409); without one the update applies to the latest.
    /// </summary>
    public Task<JsonObject> UpdateAsync(ResourceKind kind, string? @namespace, string name, JsonObject obj, bool statusOnly, WriteOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var meta = MetadataOf(obj);
        if (meta["name"]?.ToString() is { Length: > 0 } sentName && sentName != name)
        {
            throw new BadRequestException($"the name of the object ({sentName}) does not match the name on the URL ({name})");
        }

        CheckNamespace(kind, @namespace, meta);
        var expected = ParseResourceVersion(meta["resourceVersion"]?.ToString());
        return WriteAsync(kind, @namespace, name, _ => obj, statusOnly, expected, options, cancellationToken);
    }

    /// <summary>
    /// Changes an object by a function of its current state (a patch), retrying on a concurrent
    /// write unless the result pins a resourceVersion, which must then be current.
    /// </summary>
    public Task<JsonObject> MutateAsync(ResourceKind kind, string? @namespace, string name, Func<JsonObject, JsonObject> mutate, bool statusOnly, WriteOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mutate);
        return WriteAsync(kind, @namespace, name, mutate, statusOnly, expected: null, options, cancellationToken);
    }

    /// <summary>Deletes an object, or marks it when finalizers hold it.</summary>
    public async Task<JsonObject> DeleteAsync(ResourceKind kind, string? @namespace, string name, DeleteOptions? options, WriteOptions? writeOptions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var key = KeyFor(kind, NamespaceOf(kind, @namespace), name);
        for (var attempt = 0; ; attempt++)
        {
            var current = await store.GetAsync(key, 0, cancellationToken).ConfigureAwait(false)
                ?? throw new NotFoundException(kind.Group, kind.Plural, name);
            var obj = DecodeNode(current);
            var meta = MetadataOf(obj);
            var uid = meta["uid"]?.ToString();
            if (options?.PreconditionUid is { } wantUid && wantUid != uid)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, $"Precondition failed: UID in precondition: {wantUid}, UID in object meta: {uid}");
            }

            if (options?.PreconditionResourceVersion is { } wantRv && wantRv != meta["resourceVersion"]?.ToString())
            {
                throw new ConflictException(kind.Group, kind.Plural, name, $"Precondition failed: ResourceVersion in precondition: {wantRv}, ResourceVersion in object meta: {meta["resourceVersion"]}");
            }

            // Foreground and orphan deletion are finalizers the garbage collector works off.
            var propagation = options?.PropagationPolicy switch
            {
                "Foreground" => ForegroundDeletion,
                "Orphan" => OrphanDependents,
                _ => null,
            };
            var finalizers = meta["finalizers"] as JsonArray;
            if (propagation is not null && meta["deletionTimestamp"] is null && !(finalizers ?? []).Any(f => f?.ToString() == propagation))
            {
                finalizers ??= [];
                finalizers.Add(propagation);
                meta["finalizers"] = finalizers;
            }

            var dryRun = writeOptions?.DryRun == true;
            var onlyMarks = (GracefulPodDeletion && IsPod(kind) && PodGracePeriod(obj, options) is not null) || finalizers is { Count: > 0 } || HasSpecFinalizers(kind, obj);
            if (onlyMarks && meta["deletionTimestamp"] is null)
            {
                // The object is only marked (a finalizer or a pod's grace period holds it): the
                // validating chain judges the request now, as the requester's (a namespace of the
                // system, another node's pod); the final removal passes the whole chain again.
                var marking = new AdmissionRequest(kind, AdmissionOperation.Delete, NamespaceOf(kind, @namespace), name, obj, obj, dryRun: true) { User = writeOptions?.User, WarningSink = writeOptions?.Warnings, AuditAnnotationSink = writeOptions?.AuditAnnotations };
                await Admission.ValidateAsync(marking, cancellationToken).ConfigureAwait(false);
            }

            WriteResult write;
            if (GracefulPodDeletion && IsPod(kind) && PodGracePeriod(obj, options) is { } grace)
            {
                // As Kubernetes does for a pod on a node: mark it and let the node agent stop its
                // containers within the grace period; the agent's own delete (grace 0) removes it.
                if (meta["deletionTimestamp"] is not null)
                {
                    return obj;
                }

                meta["deletionTimestamp"] = FormatTime(timeProvider.GetUtcNow().AddSeconds(grace));
                meta["deletionGracePeriodSeconds"] = grace;
                if (dryRun)
                {
                    return obj;
                }

                write = await store.UpdateAsync(key, Encode(key, obj), current.ModRevision, 0, cancellationToken).ConfigureAwait(false);
                if (write.Succeeded)
                {
                    return DecodeNode(write.Current!);
                }
            }
            else if (finalizers is { Count: > 0 } || HasSpecFinalizers(kind, obj))
            {
                if (meta["deletionTimestamp"] is not null)
                {
                    return obj;
                }

                meta["deletionTimestamp"] = FormatTime(timeProvider.GetUtcNow());
                meta["deletionGracePeriodSeconds"] = 0;
                if (IsNamespace(kind))
                {
                    obj["status"] = new JsonObject { ["phase"] = "Terminating" };
                }

                if (dryRun)
                {
                    return obj;
                }

                write = await store.UpdateAsync(key, Encode(key, obj), current.ModRevision, 0, cancellationToken).ConfigureAwait(false);
                if (write.Succeeded)
                {
                    return DecodeNode(write.Current!);
                }
            }
            else
            {
                var admission = await AdmitDeletionAsync(kind, @namespace, name, obj, dryRun, writeOptions?.User, cancellationToken).ConfigureAwait(false);
                if (dryRun)
                {
                    return obj;
                }

                write = await store.DeleteAsync(key, current.ModRevision, cancellationToken).ConfigureAwait(false);
                if (write.Succeeded)
                {
                    await admission.CommitAsync(cancellationToken).ConfigureAwait(false);
                    return WithResourceVersion(obj, write.Revision);
                }

                await admission.AbortAsync(cancellationToken).ConfigureAwait(false);
            }

            if (attempt == MaxRetries)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, ConflictException.Modified);
            }
        }
    }

    private async Task<JsonObject> WriteAsync(ResourceKind kind, string? @namespace, string name, Func<JsonObject, JsonObject> change, bool statusOnly, long? expected, WriteOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var ns = NamespaceOf(kind, @namespace);
        var key = KeyFor(kind, ns, name);
        for (var attempt = 0; ; attempt++)
        {
            var current = await store.GetAsync(key, 0, cancellationToken).ConfigureAwait(false)
                ?? throw new NotFoundException(kind.Group, kind.Plural, name);
            if (expected is { } rv && rv != current.ModRevision)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, ConflictException.Modified);
            }

            var old = DecodeNode(current);
            var sent = change((JsonObject)old.DeepClone());
            var pinned = ParseResourceVersion(MetadataOf(sent)["resourceVersion"]?.ToString());
            if (pinned is { } p && p != current.ModRevision)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, ConflictException.Modified);
            }

            var strategy = Strategies.For(kind);
            var dryRun = options?.DryRun == true;
            if (!statusOnly)
            {
                // Defaults first, so an update that only omits defaulted fields is no spec change.
                strategy.Default(sent);
            }

            var next = statusOnly ? WithStatus(old, sent) : Merged(kind, old, sent);
            var meta = MetadataOf(next);
            var admission = new AdmissionRequest(kind, AdmissionOperation.Update, ns, name, next, old, dryRun) { User = options?.User, WarningSink = options?.Warnings, AuditAnnotationSink = options?.AuditAnnotations };
            if (!statusOnly)
            {
                // A status write changes what the server reports, not what was asked: it skips the chain, as in Kubernetes.
                await Admission.MutateAsync(admission, cancellationToken).ConfigureAwait(false);
            }

            ObjectValidation.Validate(kind, strategy, next, old, name);
            if (!statusOnly)
            {
                await Admission.ValidateAsync(admission, cancellationToken).ConfigureAwait(false);
            }

            // An object marked with a grace period (a pod its node agent is stopping) waits for a delete, not for its last finalizer.
            var finalizing = meta["deletionTimestamp"] is not null && (meta["finalizers"] as JsonArray ?? []).Count == 0 && !HasSpecFinalizers(kind, next)
                && !(long.TryParse(meta["deletionGracePeriodSeconds"]?.ToString(), CultureInfo.InvariantCulture, out var grace) && grace > 0);
            if (finalizing)
            {
                // Its last finalizer went: the object leaves the store, and the chain sees it go.
                admission = await AdmitDeletionAsync(kind, ns, name, next, dryRun, user: null, cancellationToken).ConfigureAwait(false);
            }

            if (dryRun)
            {
                return WithResourceVersion(next, current.ModRevision);
            }

            var write = finalizing
                ? await store.DeleteAsync(key, current.ModRevision, cancellationToken).ConfigureAwait(false)
                : await store.UpdateAsync(key, Encode(key, next), current.ModRevision, 0, cancellationToken).ConfigureAwait(false);
            if (write.Succeeded)
            {
                await admission.CommitAsync(cancellationToken).ConfigureAwait(false);
                return write.Current is { } written ? DecodeNode(written) : WithResourceVersion(next, write.Revision);
            }

            await admission.AbortAsync(cancellationToken).ConfigureAwait(false);

            if (expected is not null || pinned is not null || attempt == MaxRetries)
            {
                throw new ConflictException(kind.Group, kind.Plural, name, ConflictException.Modified);
            }
        }
    }

    private static bool IsNamespace(ResourceKind kind) => kind is { Group: "", Plural: "namespaces" };

    private static bool IsPod(ResourceKind kind) => kind is { Group: "", Plural: "pods" };

    /// <summary>The grace a pod's deletion gets, or null when it goes at once: asked with 0, not on a node, or finished.</summary>
    private static long? PodGracePeriod(JsonObject pod, DeleteOptions? options)
    {
        if (options?.GracePeriodSeconds is <= 0
            || string.IsNullOrEmpty(pod["spec"]?["nodeName"]?.ToString())
            || pod["status"]?["phase"]?.ToString() is "Succeeded" or "Failed")
        {
            return null;
        }

        var grace = options?.GracePeriodSeconds
            ?? (long.TryParse(pod["spec"]?["terminationGracePeriodSeconds"]?.ToString(), CultureInfo.InvariantCulture, out var seconds) ? seconds : 30);
        return grace > 0 ? grace : null;
    }

    /// <summary>A namespace's spec.finalizers hold it like metadata finalizers do, until the namespace controller has emptied it.</summary>
    private static bool HasSpecFinalizers(ResourceKind kind, JsonObject obj) =>
        IsNamespace(kind) && obj["spec"]?["finalizers"] is JsonArray { Count: > 0 };

    /// <summary>An object is about to leave the store: both phases of the chain see it; the returned request commits or aborts with the store's delete.</summary>
    private async Task<AdmissionRequest> AdmitDeletionAsync(ResourceKind kind, string? @namespace, string name, JsonObject obj, bool dryRun, RequestUser? user, CancellationToken cancellationToken)
    {
        var admission = new AdmissionRequest(kind, AdmissionOperation.Delete, NamespaceOf(kind, @namespace), name, obj, obj, dryRun) { User = user };
        await Admission.MutateAsync(admission, cancellationToken).ConfigureAwait(false);
        await Admission.ValidateAsync(admission, cancellationToken).ConfigureAwait(false);
        return admission;
    }

    /// <summary>The namespace an object lives in: the request's, which the body must not contradict.</summary>
    private static string? CheckNamespace(ResourceKind kind, string? requested, JsonObject meta)
    {
        var sent = meta["namespace"]?.ToString();
        if (!kind.Namespaced)
        {
            meta.Remove("namespace");
            return null;
        }

        if (!string.IsNullOrEmpty(requested) && !string.IsNullOrEmpty(sent) && sent != requested)
        {
            throw new BadRequestException($"the namespace of the provided object ({sent}) does not match the namespace sent on the request ({requested})");
        }

        var ns = string.IsNullOrEmpty(requested) ? (string.IsNullOrEmpty(sent) ? "default" : sent) : requested;
        meta["namespace"] = ns;
        return ns;
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

    private static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

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
