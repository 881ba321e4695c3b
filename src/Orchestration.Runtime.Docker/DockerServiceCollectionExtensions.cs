using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime;

namespace Orchestration.Runtime.Docker;

/// <summary>Registers the Docker runtime for a worker's node agent.</summary>
public static class DockerServiceCollectionExtensions
{
    /// <summary>
    /// Makes <see cref="DockerRuntime"/> the <see cref="INodeRuntime"/>, talking to the dockerd at
    /// <see cref="DockerRuntimeOptions.SocketPath"/>; pair it with <c>AddNodeAgent()</c>.
    /// </summary>
    public static IServiceCollection UseDockerRuntime(this IServiceCollection services, Action<DockerRuntimeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<DockerRuntimeOptions>().Configure(o => configure?.Invoke(o));
        services.AddSingleton<DockerRuntime>();
        services.AddSingleton<INodeRuntime>(sp => sp.GetRequiredService<DockerRuntime>());
        return services;
    }
}
