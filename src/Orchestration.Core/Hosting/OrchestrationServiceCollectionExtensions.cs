using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Resources;
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
        services.TryAddSingleton(_ => ResourceKindTable.CreateDefault());
        services.TryAddSingleton<IStateStore, InMemoryStateStore>();
        services.TryAddSingleton(_ => ObjectPatchers.CreateDefault());
        services.TryAddSingleton(sp => new ObjectRegistry(sp.GetRequiredService<IStateStore>(), sp.GetRequiredService<ResourceKindTable>(), sp.GetRequiredService<TimeProvider>())
        {
            Patchers = sp.GetRequiredService<ObjectPatchers>(),
        });
        services.TryAddSingleton<IClusterClient, LocalClusterClient>();
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
}
