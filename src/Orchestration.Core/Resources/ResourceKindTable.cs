using k8s.Models;

namespace Orchestration.Resources;

/// <summary>The resource kinds a cluster serves, looked up by CLR type or by group and plural.</summary>
public sealed class ResourceKindTable
{
    private readonly Dictionary<Type, ResourceKind> _byType = [];
    private readonly Dictionary<(string Group, string Plural), ResourceKind> _byResource = [];
    private readonly Lock _sync = new();

    /// <summary>Every registered kind.</summary>
    public IReadOnlyCollection<ResourceKind> Kinds
    {
        get
        {
            lock (_sync)
            {
                return _byResource.Values.ToList();
            }
        }
    }

    /// <summary>Adds a kind; a second kind with the same group and plural is refused.</summary>
    public ResourceKindTable Register(ResourceKind kind)
    {
        lock (_sync)
        {
            if (!_byResource.TryAdd((kind.Group, kind.Plural), kind))
            {
                throw new InvalidOperationException($"the resource {kind.Plural} in group '{kind.Group}' is already registered.");
            }

            if (kind.ClrType is { } type)
            {
                _byType.TryAdd(type, kind);
            }

            Generation++;
            return this;
        }
    }

    /// <summary>Counts registrations and removals, so callers can cache what they derive from the table.</summary>
    public long Generation { get; private set; }

    /// <summary>Adds a kind or replaces the one with the same group and plural (a custom kind whose definition changed).</summary>
    public void RegisterOrReplace(ResourceKind kind)
    {
        lock (_sync)
        {
            _byResource[(kind.Group, kind.Plural)] = kind;
            Generation++;
        }
    }

    /// <summary>Removes a kind that has no CLR type (a custom kind whose definition was deleted).</summary>
    public bool Unregister(string group, string plural)
    {
        lock (_sync)
        {
            if (_byResource.TryGetValue((group, plural), out var kind) && kind.ClrType is null)
            {
                _byResource.Remove((group, plural));
                Generation++;
                return true;
            }

            return false;
        }
    }

    /// <summary>The kind objects of <typeparamref name="T"/> belong to.</summary>
    /// <exception cref="InvalidOperationException">The type is not registered.</exception>
    public ResourceKind For<T>() => For(typeof(T));

    /// <summary>The kind objects of this type belong to.</summary>
    public ResourceKind For(Type type)
    {
        lock (_sync)
        {
            return _byType.TryGetValue(type, out var kind)
                ? kind
                : throw new InvalidOperationException($"{type.Name} is not a registered resource kind; register it in the ResourceKindTable.");
        }
    }

    /// <summary>The kind served as <paramref name="plural"/> in <paramref name="group"/>, or null.</summary>
    public ResourceKind? Find(string group, string plural)
    {
        lock (_sync)
        {
            return _byResource.GetValueOrDefault((group, plural));
        }
    }

    private static readonly string[] All = ["all"];

    /// <summary>The built-in kinds of the Kubernetes API that this project serves.</summary>
    public static ResourceKindTable CreateDefault() => new ResourceKindTable()
        .Register(ResourceKind.For<V1Namespace>(namespaced: false, hasStatus: true, NameRule.Label, "ns"))
        .Register(ResourceKind.For<V1Pod>(namespaced: true, hasStatus: true, NameRule.Subdomain, All, "po") with { ExtraSubresources = ["binding", "log", "exec", "attach", "portforward"] })
        .Register(ResourceKind.For<V1Node>(namespaced: false, hasStatus: true, NameRule.Subdomain, "no"))
        .Register(ResourceKind.For<V1Service>(namespaced: true, hasStatus: true, NameRule.Label, All, "svc"))
        .Register(ResourceKind.For<V1Endpoints>(namespaced: true, hasStatus: false, NameRule.Subdomain, "ep"))
        .Register(ResourceKind.For<V1EndpointSlice>(namespaced: true))
        .Register(ResourceKind.For<V1ConfigMap>(namespaced: true, hasStatus: false, NameRule.Subdomain, "cm"))
        .Register(ResourceKind.For<V1Secret>(namespaced: true))
        .Register(ResourceKind.For<V1ServiceAccount>(namespaced: true, hasStatus: false, NameRule.Subdomain, "sa") with { ExtraSubresources = ["token"] })
        .Register(ResourceKind.For<Corev1Event>(namespaced: true, hasStatus: false, NameRule.Subdomain, "ev"))
        .Register(ResourceKind.For<Eventsv1Event>(namespaced: true, hasStatus: false, NameRule.Subdomain, "ev"))
        .Register(ResourceKind.For<V1Lease>(namespaced: true))
        .Register(ResourceKind.For<V1Deployment>(namespaced: true, hasStatus: true, NameRule.Subdomain, All, "deploy") with { HasScale = true })
        .Register(ResourceKind.For<V1ReplicaSet>(namespaced: true, hasStatus: true, NameRule.Subdomain, All, "rs") with { HasScale = true })
        .Register(ResourceKind.For<V1DaemonSet>(namespaced: true, hasStatus: true, NameRule.Subdomain, All, "ds"))
        .Register(ResourceKind.For<V1StatefulSet>(namespaced: true, hasStatus: true, NameRule.Subdomain, All, "sts") with { HasScale = true })
        .Register(ResourceKind.For<V1Job>(namespaced: true, hasStatus: true, NameRule.Subdomain, All, []))
        .Register(ResourceKind.For<V1CustomResourceDefinition>(namespaced: false, hasStatus: true, NameRule.Subdomain, "crd", "crds"))
        .Register(ResourceKind.For<V1ResourceQuota>(namespaced: true, hasStatus: true, NameRule.Subdomain, "quota"))
        .Register(ResourceKind.For<V1LimitRange>(namespaced: true, hasStatus: false, NameRule.Subdomain, "limits"))
        .Register(ResourceKind.For<V1MutatingWebhookConfiguration>(namespaced: false))
        .Register(ResourceKind.For<V1ValidatingWebhookConfiguration>(namespaced: false))
        .Register(ResourceKind.For<V1Role>(namespaced: true, hasStatus: false, NameRule.PathSegment))
        .Register(ResourceKind.For<V1ClusterRole>(namespaced: false, hasStatus: false, NameRule.PathSegment))
        .Register(ResourceKind.For<V1RoleBinding>(namespaced: true, hasStatus: false, NameRule.PathSegment))
        .Register(ResourceKind.For<V1ClusterRoleBinding>(namespaced: false, hasStatus: false, NameRule.PathSegment))
        .Register(ResourceKind.For<V1SelfSubjectAccessReview>(namespaced: false) with { Plural = "selfsubjectaccessreviews", Verbs = Create })
        .Register(ResourceKind.For<V1SelfSubjectRulesReview>(namespaced: false) with { Plural = "selfsubjectrulesreviews", Verbs = Create })
        .Register(ResourceKind.For<V1SubjectAccessReview>(namespaced: false) with { Plural = "subjectaccessreviews", Verbs = Create })
        .Register(ResourceKind.For<V1LocalSubjectAccessReview>(namespaced: true) with { Plural = "localsubjectaccessreviews", Verbs = Create })
        .Register(ResourceKind.For<V1SelfSubjectReview>(namespaced: false) with { Plural = "selfsubjectreviews", Verbs = Create, ServedVersions = ["v1", "v1beta1", "v1alpha1"] })
        .Register(ResourceKind.For<V1TokenReview>(namespaced: false) with { Plural = "tokenreviews", Verbs = Create });

    private static readonly string[] Create = ["create"];
}
