using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orchestration.Controllers;
using Orchestration.Controllers.Nodes;
using Orchestration.Resources;
using Orchestration.Scheduling;
using Orchestration.State;

namespace Orchestration.Hosting;

/// <summary>The front door of a master: <see cref="AddOrchestrationMaster"/> and what the returned builder takes.</summary>
public static class MasterServiceCollectionExtensions
{
    /// <summary>
    /// Composes a master: the registry and its local client, the bootstrap of a new cluster
    /// (system namespaces, the <c>kubernetes</c> Service), the controller manager with the built-in
    /// controllers, and the scheduler, all under leader election. The state store is in memory
    /// until a provider is chosen (<see cref="UseInMemoryStateStore"/>, <c>UseSqliteStateStore</c>,
    /// <c>UseEtcdStateStore</c>); the API server is added by <c>AddApiServer</c> from its package.
    /// Defaults are added with TryAdd, so a registration of the user's own made before wins; options
    /// are validated when the host starts.
    /// </summary>
    public static IMasterBuilder AddOrchestrationMaster(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new MasterBuilder(services);
        if (services.Any(d => d.ServiceType == typeof(MasterMarker)))
        {
            return builder;
        }

        services.AddSingleton<MasterMarker>();
        services.AddOrchestrationState();

        // Pods bound to nodes are stopped by their node agents before they go, as in Kubernetes.
        services.Configure<RegistryOptions>(o => o.GracefulPodDeletion = true);
        services.AddOptions<ClusterBootstrapOptions>()
            .Validate(o => o.NodeLocalApiPort is > 0 and <= 65535, "ClusterBootstrapOptions.NodeLocalApiPort must be a TCP port (1-65535)")
            .Validate(o => System.Net.IPAddress.TryParse(o.NodeLocalApiAddress, out _) && System.Net.IPAddress.TryParse(o.NodeLocalDnsAddress, out _), "ClusterBootstrapOptions.NodeLocalApiAddress and NodeLocalDnsAddress must be IP addresses")
            .ValidateOnStart();
        services.AddHostedService<ClusterBootstrap>();
        services.AddOrchestrationControllers();
        services.AddOrchestrationScheduler();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NodeIpamOptions>, NodeIpamOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NodeLifecycleOptions>, NodeLifecycleOptionsValidator>());
        services.AddOptions<NodeIpamOptions>().ValidateOnStart();
        services.AddOptions<NodeLifecycleOptions>().ValidateOnStart();
        return builder;
    }

    /// <summary>Keeps the cluster's state in memory: gone when the process ends (tests, simulations).</summary>
    public static IMasterBuilder UseInMemoryStateStore(this IMasterBuilder builder, Action<StateStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure<StateStoreOptions>(o => configure?.Invoke(o));
        builder.Services.Replace(ServiceDescriptor.Singleton<IStateStore>(sp => new InMemoryStateStore(
            sp.GetRequiredService<IOptions<StateStoreOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<Microsoft.Extensions.Logging.ILogger<InMemoryStateStore>>())));
        return builder;
    }

    /// <summary>
    /// Runs a controller of the user's own in the master's controller manager (over its shared
    /// informers, while this master leads); <paramref name="configure"/> says what it watches.
    /// </summary>
    public static IMasterBuilder AddController<TController>(this IMasterBuilder builder, Action<ControllerBuilder> configure)
        where TController : class, IController
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddController<TController>(configure);
        return builder;
    }

    /// <summary>Sets the scheduler's options (queue back-off, assumed pod expiry).</summary>
    public static IMasterBuilder ConfigureScheduler(this IMasterBuilder builder, Action<SchedulerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>
    /// Adds a scheduling plugin to the default scheduler, after the standard ones: it is called at
    /// every extension point it implements (filter, score, reserve, bind, ...).
    /// </summary>
    public static IMasterBuilder AddSchedulerPlugin<TPlugin>(this IMasterBuilder builder)
        where TPlugin : class, ISchedulingPlugin
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISchedulingPlugin, TPlugin>());
        return builder;
    }

    /// <summary>Sets the pod network that Node IPAM divides into one block per node.</summary>
    public static IMasterBuilder ConfigurePodNetwork(this IMasterBuilder builder, Action<NodeIpamOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>Sets how long a node may go silent before it is NotReady and tainted, and how often that is checked.</summary>
    public static IMasterBuilder ConfigureNodeLifecycle(this IMasterBuilder builder, Action<NodeLifecycleOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>Marks a collection that has a master already, so a second call adds nothing twice.</summary>
    private sealed class MasterMarker;
}
