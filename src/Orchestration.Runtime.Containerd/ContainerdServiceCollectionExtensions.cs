using Microsoft.Extensions.DependencyInjection;
using Orchestration.Runtime;

namespace Orchestration.Runtime.Containerd;

/// <summary>Registers the containerd runtime for a worker's node agent.</summary>
public static class ContainerdServiceCollectionExtensions
{
    /// <summary>
    /// Makes <see cref="ContainerdRuntime"/> the <see cref="INodeRuntime"/>, talking CRI to the
    /// containerd at <see cref="ContainerdRuntimeOptions.SocketPath"/>; pair it with <c>AddNodeAgent()</c>.
    /// </summary>
    public static IServiceCollection UseContainerdRuntime(this IServiceCollection services, Action<ContainerdRuntimeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<ContainerdRuntimeOptions>().Configure(o => configure?.Invoke(o));
        services.AddSingleton<ContainerdRuntime>();
        services.AddSingleton<INodeRuntime>(sp => sp.GetRequiredService<ContainerdRuntime>());
        return services;
    }
}
