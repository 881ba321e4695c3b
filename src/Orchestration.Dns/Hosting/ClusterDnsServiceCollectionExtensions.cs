using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Orchestration.Dns.Hosting;

/// <summary>Registers the cluster DNS server's parts in a container.</summary>
public static class ClusterDnsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="ClusterDnsOptions"/> (checked at start by <see cref="ClusterDnsOptionsValidator"/>),
    /// the <see cref="ClusterDnsZone"/>, the <see cref="ClusterDnsServer"/> and the plain
    /// <see cref="IDnsSocketFactory"/>, each only when not registered already, so a host's own wins.
    /// The host feeds the zone from its informers and starts the server; logging comes from the host.
    /// </summary>
    public static IServiceCollection AddClusterDns(this IServiceCollection services, Action<ClusterDnsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<ClusterDnsOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClusterDnsOptions>, ClusterDnsOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IDnsSocketFactory>(DnsSocketFactory.Default);
        services.TryAddSingleton<ClusterDnsZone>();
        services.TryAddSingleton<ClusterDnsServer>();
        return services;
    }
}
