using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestration.Networking;
using Orchestration.NodeAgent;

namespace Orchestration.Hosting;

/// <summary>A worker's network proxy: kube-proxy's part of the node.</summary>
public static class NetworkProxyWorkerBuilderExtensions
{
    /// <summary>
    /// Runs <see cref="NetworkProxyService"/> on the worker with the <see cref="INetworkProxy"/> that
    /// <paramref name="factory"/> makes (called once the host has started its runtime daemons), replacing
    /// any proxy chosen before. Proxy packages build their <c>Use*Proxy</c> on this.
    /// </summary>
    public static IWorkerBuilder UseNetworkProxy(this IWorkerBuilder builder, Func<IServiceProvider, INetworkProxy> factory, Action<NetworkProxyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.Replace(ServiceDescriptor.Singleton(factory));
        AddProxyOptions(builder.Services, configure);
        if (!builder.Services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(NetworkProxyService)))
        {
            builder.Services.AddHostedService<NetworkProxyService>();
        }

        return builder;
    }

    /// <summary>Runs a network proxy of the user's own, resolved from DI.</summary>
    public static IWorkerBuilder UseNetworkProxy<TProxy>(this IWorkerBuilder builder, Action<NetworkProxyOptions>? configure = null)
        where TProxy : class, INetworkProxy
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<TProxy>();
        return builder.UseNetworkProxy(sp => sp.GetRequiredService<TProxy>(), configure);
    }

    /// <summary>
    /// Serves Services from this process (<see cref="UserspaceProxy"/>, TCP and UDP) instead of the
    /// kernel: for nodes without nftables. Its sockets and addresses come from the worker's
    /// <see cref="IUserspaceProxyNetwork"/> (a real node's namespace; this process's own network otherwise).
    /// </summary>
    public static IWorkerBuilder UseUserspaceProxy(this IWorkerBuilder builder, Action<NetworkProxyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<IUserspaceProxyNetwork, HostUserspaceProxyNetwork>();
        return builder.UseNetworkProxy(
            sp => new UserspaceProxy(sp.GetRequiredService<IUserspaceProxyNetwork>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<UserspaceProxy>>()),
            configure);
    }

    /// <summary>
    /// Runs no network proxy on the worker (another component serves Services, or none are needed),
    /// even where the runtime would choose one by default.
    /// </summary>
    public static IWorkerBuilder WithoutNetworkProxy(this IWorkerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<INetworkProxy, NoNetworkProxy>());
        var hosted = builder.Services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(NetworkProxyService)).ToList();
        foreach (var descriptor in hosted)
        {
            builder.Services.Remove(descriptor);
        }

        return builder;
    }

    private static void AddProxyOptions(IServiceCollection services, Action<NetworkProxyOptions>? configure)
    {
        var options = services.AddOptions<NetworkProxyOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.PostConfigure<IOptions<NodeAgentOptions>>((proxy, agent) =>
        {
            if (proxy.NodeName.Length == 0)
            {
                proxy.NodeName = agent.Value.NodeName;
            }
        })
        .Validate(o => o.MinSyncInterval > TimeSpan.Zero && o.MaxRetryInterval >= o.MinSyncInterval, "NetworkProxyOptions.MinSyncInterval must be positive and MaxRetryInterval at least as long")
        .ValidateOnStart();
    }

    /// <summary>The proxy of a worker that runs none: it is never synced.</summary>
    private sealed class NoNetworkProxy : INetworkProxy
    {
        public Task SyncAsync(ServiceTable table, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task CleanUpAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
