using Microsoft.Extensions.DependencyInjection;

namespace Orchestration.Hosting;

/// <summary>
/// Composes a worker in a host: how it reaches the API, its node runtime and what the node agent
/// runs with. Returned by <see cref="WorkerServiceCollectionExtensions.AddOrchestrationWorker"/>;
/// runtimes add their <c>Use*</c> extensions to it (<c>UseContainerdRuntime</c>,
/// <c>UseDockerRuntime</c>, <see cref="WorkerServiceCollectionExtensions.UseSimulatedNodes"/>).
/// </summary>
public interface IWorkerBuilder : IClientBuilder
{
}

internal sealed class WorkerBuilder(IServiceCollection services) : IWorkerBuilder
{
    public IServiceCollection Services { get; } = services;
}
