using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Apps;
using Orchestration.Controllers.Batch;
using Orchestration.Controllers.Network;
using Orchestration.Controllers.Nodes;
using Orchestration.Controllers.Scheduler;
using Orchestration.Events;
using Orchestration.Resources;
using Orchestration.Resources.Admission;
using Orchestration.Resources.Patching;
using Orchestration.Resources.Strategies;
using Orchestration.Scheduling;
using Orchestration.State;

namespace Orchestration.Hosting;

/// <summary>The DI front door for the state store, the registry and the local client.</summary>
public static class OrchestrationServiceCollectionExtensions
{
    /// <summary>
    /// Registers the resource kind table, the registry and the local <see cref="IClusterClient"/>,
    /// and the in-memory store unless another <see cref="IStateStore"/> is registered (defaults are
    /// added with TryAdd, so a user's registration wins).
    /// </summary>
    public static IServiceCollection AddOrchestrationState(this IServiceCollection services)
    {
        services.AddOptions<StateStoreOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(KindTable);
        services.TryAddSingleton<IStateStore>(sp => new InMemoryStateStore(
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<StateStoreOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Logging.ILogger<InMemoryStateStore>>()));
        // Merge and strategic merge here; the API server's package adds JSON patch and apply the same way.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IObjectPatcher, MergePatcher>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IObjectPatcher, StrategicMergePatcher>());
        services.TryAddSingleton(sp => sp.GetServices<IObjectPatcher>().Aggregate(new ObjectPatchers(), (all, patcher) => all.Add(patcher)));
        services.AddOptions<RegistryOptions>();
        services.AddOptions<ServiceAddressOptions>();
        services.TryAddSingleton(sp => new ServiceAddresses(sp.GetRequiredService<IStateStore>(), sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ServiceAddressOptions>>().Value));

        // The built-in admission plugins come first, whenever a user's were registered (TryAddEnumerable
        // of the plugin interfaces), which follow in their order.
        services.TryAddSingleton<ServiceAddressAllocation>();
        services.TryAddSingleton<NamespaceLifecycle>();
        services.TryAddSingleton<PodSecurity>();
        services.TryAddSingleton<NodeRestriction>();
        services.TryAddSingleton<LimitRanger>();
        services.TryAddSingleton<ResourceQuotaAdmission>();
        services.TryAddSingleton(sp => new AdmissionChain(
            [sp.GetRequiredService<ServiceAddressAllocation>(), sp.GetRequiredService<LimitRanger>(), .. sp.GetServices<IMutatingAdmissionPlugin>()],
            [sp.GetRequiredService<NamespaceLifecycle>(), sp.GetRequiredService<NodeRestriction>(), sp.GetRequiredService<PodSecurity>(), sp.GetRequiredService<ResourceQuotaAdmission>(), .. sp.GetServices<IValidatingAdmissionPlugin>()]));

        // Strategies registered through DI (AddResourceStrategy) replace the built-in one of their kind.
        services.TryAddSingleton(sp => new ResourceStrategies([.. ResourceStrategies.BuiltIn(), .. sp.GetServices<IResourceStrategy>()]));
        services.TryAddSingleton(sp => new ObjectRegistry(sp.GetRequiredService<IStateStore>(), sp.GetRequiredService<ResourceKindTable>(), sp.GetRequiredService<TimeProvider>())
        {
            Patchers = sp.GetRequiredService<ObjectPatchers>(),
            GracefulPodDeletion = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<RegistryOptions>>().Value.GracefulPodDeletion,
            Encryption = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<RegistryOptions>>().Value.Encryption,
            ServiceAddresses = sp.GetRequiredService<ServiceAddresses>(),
            Strategies = sp.GetRequiredService<ResourceStrategies>(),
            Admission = sp.GetRequiredService<AdmissionChain>(),
        });
        services.TryAddSingleton<IClusterClient, LocalClusterClient>();
        services.TryAddSingleton<IDynamicClusterClient, LocalDynamicClusterClient>();
        return services;
    }

    /// <summary>
    /// Runs the garbage collector (ownerReferences; background, foreground and orphan deletion) and
    /// the namespace controller (a deleted namespace is emptied, then goes) in this process.
    /// </summary>
    public static IServiceCollection AddOrchestrationGarbageCollector(this IServiceCollection services, Action<GarbageCollectorOptions>? configure = null)
    {
        var options = services.AddOptions<GarbageCollectorOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddOrchestrationState();
        services.AddHostedService<GarbageCollector>();
        services.AddHostedService<NamespaceController>();
        return services;
    }

    /// <summary>
    /// Registers a controller: <paramref name="configure"/> says what it watches (its primary kind,
    /// the kinds it owns, others mapped to keys). The controller manager (added once) runs every
    /// registered controller over shared informers, under leader election unless turned off.
    /// </summary>
    public static IServiceCollection AddController<TController>(this IServiceCollection services, Action<ControllerBuilder> configure)
        where TController : class, IController
    {
        ArgumentNullException.ThrowIfNull(configure);
        var definition = new ControllerBuilder { Name = typeof(TController).Name };
        configure(definition);
        services.AddOrchestrationState();
        services.AddOptions<ControllerManagerOptions>();
        services.TryAddSingleton<ControllerContext>();
        services.TryAddSingleton<EventRecorder>();
        services.TryAddSingleton<TController>();
        services.AddSingleton(new ControllerRegistration(typeof(TController), definition));
        if (!services.Any(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType == typeof(ControllerManager)))
        {
            services.AddHostedService<ControllerManager>();
        }

        return services;
    }

    /// <summary>
    /// The kube-controller-manager role: the garbage collector and namespace controller, and the
    /// ReplicaSet, Deployment, DaemonSet, StatefulSet, Job, Endpoints (and EndpointSlice), Node
    /// IPAM, Node lifecycle, ClusterRole aggregation, ServiceAccount, root CA publisher and ResourceQuota controllers, run under leader election;
    /// and the ServiceAccount admission plugin, whose default ServiceAccounts the controller makes.
    /// </summary>
    public static IServiceCollection AddOrchestrationControllers(this IServiceCollection services)
    {
        services.AddOrchestrationGarbageCollector();
        services.AddController<ReplicaSetController>(ReplicaSetController.Configure);
        services.AddController<DeploymentController>(DeploymentController.Configure);
        services.AddController<DaemonSetController>(DaemonSetController.Configure);
        services.AddController<StatefulSetController>(StatefulSetController.Configure);
        services.AddController<JobController>(JobController.Configure);
        services.AddController<EndpointsController>(EndpointsController.Configure);
        services.AddController<ServiceLoadBalancerController>(ServiceLoadBalancerController.Configure);
        services.AddController<NodeIpamController>(NodeIpamController.Configure);
        services.AddController<NodeLifecycleController>(NodeLifecycleController.Configure);
        services.AddController<Controllers.Rbac.ClusterRoleAggregationController>(Controllers.Rbac.ClusterRoleAggregationController.Configure);
        services.AddController<Controllers.Auth.ServiceAccountController>(Controllers.Auth.ServiceAccountController.Configure);
        services.AddController<Controllers.Auth.RootCaPublisher>(Controllers.Auth.RootCaPublisher.Configure);

        // The ServiceAccount admission waits for the default ServiceAccount the controller above makes:
        // the two come together, so an API server composed without controllers admits pods as before.
        services.TryAddSingleton<ServiceAccountAdmission>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IMutatingAdmissionPlugin, ServiceAccountAdmission>(sp => sp.GetRequiredService<ServiceAccountAdmission>()));
        services.AddController<Controllers.Quota.ResourceQuotaController>(Controllers.Quota.ResourceQuotaController.Configure);
        return services;
    }

    /// <summary>
    /// Registers a component with a loop of its own (<see cref="IControllerLoop"/>) that the controller
    /// manager runs over the shared informers, like a controller, only while this process leads.
    /// </summary>
    public static IServiceCollection AddControllerLoop<TLoop>(this IServiceCollection services)
        where TLoop : class, IControllerLoop
    {
        services.AddOrchestrationState();
        services.AddOptions<ControllerManagerOptions>();
        services.TryAddSingleton<ControllerContext>();
        services.TryAddSingleton<TLoop>();
        services.AddSingleton(new ControllerRegistration(typeof(TLoop), new ControllerBuilder { Name = typeof(TLoop).Name }));
        if (!services.Any(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType == typeof(ControllerManager)))
        {
            services.AddHostedService<ControllerManager>();
        }

        return services;
    }

    /// <summary>
    /// Runs the scheduler in the controller manager (so only while this process leads): the default
    /// scheduler (unless another <see cref="IScheduler"/> is registered) places pending pods from its
    /// scheduling queue over its incremental cache, preempts lower-priority pods when nothing fits,
    /// and binds.
    /// </summary>
    public static IServiceCollection AddOrchestrationScheduler(this IServiceCollection services, Action<SchedulerOptions>? configure = null)
    {
        var options = services.AddOptions<SchedulerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        // The standard plugins, then any added through DI (AddSchedulerPlugin), in registration order.
        services.TryAddSingleton<IScheduler>(sp => new DefaultScheduler(DefaultScheduler.DefaultPlugins().Concat(sp.GetServices<ISchedulingPlugin>())));
        services.TryAddSingleton<EventRecorder>();
        return services.AddControllerLoop<SchedulerController>();
    }

    /// <summary>
    /// Registers a kind's strategy (its defaults, server fields, checks and selectable fields); it
    /// replaces the built-in strategy of the same kind, and a later registration replaces an earlier one.
    /// </summary>
    public static IServiceCollection AddResourceStrategy<TStrategy>(this IServiceCollection services)
        where TStrategy : class, IResourceStrategy
    {
        services.AddSingleton<IResourceStrategy, TStrategy>();
        return services;
    }

    /// <summary>
    /// Serves a typed kind of the user's own (a C# class with Kubernetes' metadata): one registration
    /// gives it routing, discovery, storage and, when <paramref name="strategy"/> is given, its rules.
    /// </summary>
    public static IServiceCollection AddResourceKind(this IServiceCollection services, ResourceKind kind, IResourceStrategy? strategy = null)
    {
        ArgumentNullException.ThrowIfNull(kind);
        services.AddSingleton(kind);
        if (strategy is not null)
        {
            services.AddSingleton(strategy);
        }

        return services;
    }

    /// <summary>The built-in kinds and those registered with <see cref="AddResourceKind"/>.</summary>
    internal static ResourceKindTable KindTable(IServiceProvider services) =>
        services.GetServices<ResourceKind>().Aggregate(ResourceKindTable.CreateDefault(), (table, kind) => table.Register(kind));
}
