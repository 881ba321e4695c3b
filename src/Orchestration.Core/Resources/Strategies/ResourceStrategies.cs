namespace Orchestration.Resources.Strategies;

/// <summary>
/// The strategy of each kind: the registered ones by (group, kind), the last registration for a
/// kind winning; a custom resource without one of its own gets <see cref="CustomResourceStrategy"/>
/// (its CRD's schema), any other kind the plain <see cref="ResourceStrategy"/>.
/// </summary>
public sealed class ResourceStrategies
{
    private readonly Dictionary<(string Group, string Kind), IResourceStrategy> _byKind = [];

    /// <summary>The given strategies, later ones replacing earlier ones of the same kind.</summary>
    public ResourceStrategies(IEnumerable<IResourceStrategy> strategies)
    {
        ArgumentNullException.ThrowIfNull(strategies);
        foreach (var strategy in strategies)
        {
            _byKind[(strategy.Group, strategy.Kind)] = strategy;
        }
    }

    /// <summary>The strategies of the built-in kinds.</summary>
    public static IReadOnlyList<IResourceStrategy> BuiltIn() =>
    [
        new PodStrategy(),
        new NamespaceStrategy(),
        new ServiceStrategy(),
        new SecretStrategy(),
        new ConfigMapStrategy(),
        new NodeStrategy(),
        new EventStrategy(),
        new EventsV1Strategy(),
        new DeploymentStrategy(),
        new ReplicaSetStrategy(),
        new StatefulSetStrategy(),
        new DaemonSetStrategy(),
        new JobStrategy(),
        new CustomResourceDefinitionStrategy(),
        new RoleStrategy(),
        new ClusterRoleStrategy(),
        new RoleBindingStrategy(),
        new ClusterRoleBindingStrategy(),
    ];

    /// <summary>The built-in strategies alone.</summary>
    public static ResourceStrategies CreateDefault() => new(BuiltIn());

    /// <summary>The strategy of <paramref name="kind"/>.</summary>
    public IResourceStrategy For(ResourceKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (_byKind.TryGetValue((kind.Group, kind.Kind), out var strategy))
        {
            return strategy;
        }

        return kind.ClrType is null ? CustomResourceStrategy.Instance : ResourceStrategy.Plain;
    }
}
