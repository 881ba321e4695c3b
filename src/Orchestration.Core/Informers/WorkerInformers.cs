using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;

namespace Orchestration.Informers;

/// <summary>
/// The informers a worker's node-side components share (the network proxy, the cluster DNS, a
/// component of the user's own), so that each kind is listed and watched once per worker however
/// many of them read it. Registered by <c>AddOrchestrationWorker</c>; it runs for as long as the host
/// does. Subscribe with <see cref="Informer{T}.AddEventHandlers"/>, which replays what the cache
/// already holds to a component that starts after the informer has synced.
/// </summary>
public sealed class WorkerInformers(IClusterClient client, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    /// <summary>The shared factory: one informer per kind.</summary>
    public InformerFactory Factory { get; } = new(client, timeProvider, loggers);

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Factory.RunAsync(stoppingToken);
}
