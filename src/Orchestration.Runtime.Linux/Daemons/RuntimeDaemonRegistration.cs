using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>What every runtime's <c>Use*Runtime</c> registers for its daemon: its options, validated at start, and the daemon as a hosted part of the worker.</summary>
public static class RuntimeDaemonRegistration
{
    /// <summary>
    /// Registers <typeparamref name="TService"/> (the daemon) as a singleton and a hosted service, with
    /// <typeparamref name="TOptions"/> configured by <paramref name="configure"/> and checked at start
    /// (a data directory, or the socket of a running daemon).
    /// </summary>
    /// <param name="services">The worker's services.</param>
    /// <param name="configure">The caller's settings.</param>
    /// <param name="daemon">The daemon's name in the validation message (<c>containerd</c>).</param>
    public static IServiceCollection AddRuntimeDaemon<TService, TOptions>(this IServiceCollection services, Action<TOptions> configure, string daemon)
        where TService : class, IHostedService, INodeNetworkNamespace
        where TOptions : RuntimeDaemonOptions
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<TOptions>()
            .Configure(configure)
            .Validate(o => o.SocketPath is not null || o.DataDirectory.Length > 0, $"{typeof(TOptions).Name}.DataDirectory is required for a {daemon} of the node's own (or give SocketPath of a running one)")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TService>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<TService>());

        // The node's network proxy and DNS work in the daemon's namespace, where its pods are.
        services.TryAddSingleton<INodeNetworkNamespace>(sp => sp.GetRequiredService<TService>());
        services.Replace(ServiceDescriptor.Singleton<Orchestration.Networking.IUserspaceProxyNetwork>(sp => new NamespaceUserspaceProxyNetwork(sp.GetService<INodeNetworkNamespace>())));
        return services;
    }
}
