using Orchestration.Informers;

namespace Orchestration.Controllers;

/// <summary>
/// A component the controller manager runs with a loop of its own over the shared informers,
/// instead of a work queue of keys (the scheduler, whose queue orders pods by priority and backs
/// them off). Like every controller it runs only while this process leads.
/// </summary>
public interface IControllerLoop
{
    /// <summary>Runs until cancelled (leadership lost, or the process stopping).</summary>
    Task RunAsync(InformerFactory informers, CancellationToken cancellationToken);
}
