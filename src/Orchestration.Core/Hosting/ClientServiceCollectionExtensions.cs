using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Events;

namespace Orchestration.Hosting;

/// <summary>How a process reaches a cluster's API: <see cref="AddOrchestrationClient"/>, and the extensions of any <see cref="IClientBuilder"/> (a worker's too).</summary>
public static class ClientServiceCollectionExtensions
{
    /// <summary>
    /// Composes a process that talks to a cluster (controllers of its own, tools): the kind table
    /// (with the kinds registered by <c>AddResourceKind</c>), a clock and an event recorder; the
    /// API is reached through <see cref="UseKubeconfig{TBuilder}"/> or <see cref="UseRemoteApi{TBuilder}"/>,
    /// or in process when a master is composed in the same host.
    /// </summary>
    public static IClientBuilder AddOrchestrationClient(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(OrchestrationServiceCollectionExtensions.KindTable);
        services.TryAddSingleton<EventRecorder>();
        return new ClientBuilder(services);
    }

    /// <summary>Reaches the cluster through the API servers, credentials and CA of a kubeconfig file.</summary>
    public static TBuilder UseKubeconfig<TBuilder>(this TBuilder builder, string path)
        where TBuilder : IClientBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(path);
        return builder.UseRemoteApi(() => RemoteClusterClientOptions.FromKubeconfig(path));
    }

    /// <summary>Reaches the cluster through the API servers and credentials that <paramref name="options"/> makes (failing over between servers).</summary>
    public static TBuilder UseRemoteApi<TBuilder>(this TBuilder builder, Func<RemoteClusterClientOptions> options)
        where TBuilder : IClientBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        builder.Services.Replace(ServiceDescriptor.Singleton<IClusterClient>(sp => new RemoteClusterClient(options(), sp.GetRequiredService<Resources.ResourceKindTable>(), sp.GetService<ILogger<RemoteClusterClient>>())));
        builder.Services.Replace(ServiceDescriptor.Singleton<IServiceAccountTokenClient>(sp => sp.GetRequiredService<IClusterClient>() as IServiceAccountTokenClient
            ?? throw new InvalidOperationException("the cluster client registered after UseRemoteApi cannot request ServiceAccount tokens")));
        return builder;
    }
}
