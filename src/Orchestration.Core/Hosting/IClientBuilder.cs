using Microsoft.Extensions.DependencyInjection;

namespace Orchestration.Hosting;

/// <summary>
/// Composes how a process reaches a cluster's API: a worker, or a process of controllers of its
/// own against any cluster (<see cref="ClientServiceCollectionExtensions.AddOrchestrationClient"/>).
/// <c>UseKubeconfig</c> and <c>UseRemoteApi</c> extend it.
/// </summary>
public interface IClientBuilder
{
    /// <summary>The host's services, for extensions that register more.</summary>
    IServiceCollection Services { get; }
}

internal sealed class ClientBuilder(IServiceCollection services) : IClientBuilder
{
    public IServiceCollection Services { get; } = services;
}
