using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Runtime;

namespace Orchestration.Hosting;

/// <summary>The front door of a worker: <see cref="AddOrchestrationWorker"/> and what the returned builder takes.</summary>
public static class WorkerServiceCollectionExtensions
{
    /// <summary>
    /// Composes a worker: a node agent that registers its node, renews its Lease and runs the pods
    /// bound to it. It reaches the API in process when a master is composed in the same host
    /// (<see cref="MasterServiceCollectionExtensions.AddOrchestrationMaster"/>), or through
    /// <c>UseKubeconfig</c> / <c>UseRemoteApi</c>; its runtime comes from a
    /// <c>Use*</c> extension (<c>UseContainerdRuntime</c>, <c>UseDockerRuntime</c>,
    /// <see cref="UseSimulatedNodes"/>, <see cref="UseRuntime{TRuntime}"/>). Options are validated when the host starts.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">The node's name, capacity, lease and directories.</param>
    public static IWorkerBuilder AddOrchestrationWorker(this IServiceCollection services, Action<NodeAgentOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<NodeAgentOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NodeAgentOptions>, NodeAgentOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NodeAgentOptions>, ApiReachable>());
        services.AddOrchestrationClient();
        if (!services.Any(d => d.ServiceType == typeof(Informers.WorkerInformers)))
        {
            services.AddSingleton<Informers.WorkerInformers>();
            services.AddHostedService(sp => sp.GetRequiredService<Informers.WorkerInformers>());
        }

        return new WorkerBuilder(services);
    }

    /// <summary>Runs the worker's node over a runtime of the user's own, resolved from DI.</summary>
    public static IWorkerBuilder UseRuntime<TRuntime>(this IWorkerBuilder builder)
        where TRuntime : class, INodeRuntime
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<TRuntime>();
        return builder.UseRuntime(sp => sp.GetRequiredService<TRuntime>());
    }

    /// <summary>
    /// Runs the worker's node (one node agent, <see cref="NodeAgentService"/>) over the runtime that
    /// <paramref name="factory"/> makes; it is called once the host has started its runtime daemons.
    /// Runtime packages build their <c>Use*</c> on this.
    /// </summary>
    public static IWorkerBuilder UseRuntime(this IWorkerBuilder builder, Func<IServiceProvider, INodeRuntime> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.Replace(ServiceDescriptor.Singleton(factory));
        if (!builder.Services.Any(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) && d.ImplementationType == typeof(NodeAgentService)))
        {
            builder.Services.AddHostedService<NodeAgentService>();
        }

        return builder;
    }

    /// <summary>
    /// Runs <paramref name="count"/> simulated nodes (node agents without containers, like KWOK's)
    /// in this host instead of one real node; they are named after the worker's node name
    /// (<c>NAME-0</c>, <c>NAME-1</c>, ...) unless <paramref name="configure"/> says otherwise.
    /// </summary>
    public static IWorkerBuilder UseSimulatedNodes(this IWorkerBuilder builder, int count = 1, Action<SimulatedNodesOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<SimulatedNodesOptions>()
            .Configure(o =>
            {
                o.Count = count;
                configure?.Invoke(o);
            })
            .Validate(o => o.Count >= 1, $"SimulatedNodesOptions.Count must be at least 1 (was {count})")
            .ValidateOnStart();
        builder.Services.AddHostedService<SimulatedNodes>();
        return builder;
    }

    /// <summary>A worker needs a way to the API: a master in the same host, or a remote client.</summary>
    private sealed class ApiReachable(IServiceProviderIsService registered) : IValidateOptions<NodeAgentOptions>
    {
        public ValidateOptionsResult Validate(string? name, NodeAgentOptions options) =>
            registered.IsService(typeof(IClusterClient))
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail("The worker has no way to reach an API server: compose a master in the same host (AddOrchestrationMaster) or call UseKubeconfig or UseRemoteApi on the worker builder");
    }
}
