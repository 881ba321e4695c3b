using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Informers;
using Orchestration.LeaderElection;
using Orchestration.WorkQueues;

namespace Orchestration.Controllers;

/// <summary>A controller registered with <c>AddController</c> (or <c>AddControllerLoop</c>): its type and what it watches.</summary>
/// <param name="ControllerType">The <see cref="IController"/> (or <see cref="IControllerLoop"/>) implementation.</param>
/// <param name="Definition">Its watches and workers.</param>
public sealed record ControllerRegistration(Type ControllerType, ControllerBuilder Definition);

/// <summary>Settings of the controller manager.</summary>
public sealed class ControllerManagerOptions
{
    /// <summary>Whether to run controllers only while this process holds the leader Lease.</summary>
    public bool LeaderElection { get; set; } = true;

    /// <summary>The leader election's settings.</summary>
    public LeaderElectionOptions Election { get; set; } = new();

    /// <summary>The work queues' retry pacing.</summary>
    public WorkQueueOptions Queues { get; set; } = new();
}

/// <summary>
/// The kube-controller-manager role: runs every registered controller over shared informers, and,
/// with leader election on, only while this process leads (losing the lease stops them at once).
/// </summary>
public sealed class ControllerManager(
    IServiceProvider services,
    IEnumerable<ControllerRegistration> registrations,
    IClusterClient client,
    IOptions<ControllerManagerOptions> options,
    ControllerContext context,
    TimeProvider timeProvider,
    ILoggerFactory loggers) : BackgroundService
{
    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        return settings.LeaderElection
            ? new LeaderElector(client, settings.Election, timeProvider, loggers.CreateLogger<LeaderElector>()).RunAsync(RunControllersAsync, stoppingToken)
            : RunControllersAsync(stoppingToken);
    }

    private async Task RunControllersAsync(CancellationToken cancellationToken)
    {
        // Fresh informers per term of leadership: a new leader starts from a fresh list.
        var informers = new InformerFactory(client, timeProvider, loggers);
        context.Informers = informers;
        var runners = new List<Task>();
        foreach (var registration in registrations)
        {
            var instance = ActivatorUtilities.GetServiceOrCreateInstance(services, registration.ControllerType);
            if (instance is IControllerLoop loop)
            {
                runners.Add(loop.RunAsync(informers, cancellationToken));
                continue;
            }

            var controller = (IController)instance;
            var logger = loggers.CreateLogger(registration.ControllerType);
            var runner = new ControllerRunner(controller, registration.Definition, options.Value.Queues, timeProvider, logger);
            runners.Add(runner.RunAsync(informers, cancellationToken));
        }

        runners.Add(informers.RunAsync(cancellationToken));
        await Task.WhenAll(runners).ConfigureAwait(false);
    }
}
