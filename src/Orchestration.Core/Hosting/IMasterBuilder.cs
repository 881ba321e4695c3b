using Microsoft.Extensions.DependencyInjection;

namespace Orchestration.Hosting;

/// <summary>
/// Composes a master in a host: the state store, the registry, the controller manager, the
/// scheduler and the bootstrap of a new cluster, and (from the API server's package) the API
/// server. Returned by <see cref="MasterServiceCollectionExtensions.AddOrchestrationMaster"/>;
/// providers add their <c>Use*</c> and <c>Add*</c> extensions to it.
/// </summary>
public interface IMasterBuilder
{
    /// <summary>The host's services, for extensions that register more.</summary>
    IServiceCollection Services { get; }
}

internal sealed class MasterBuilder(IServiceCollection services) : IMasterBuilder
{
    public IServiceCollection Services { get; } = services;
}
