using Microsoft.Extensions.Logging;
using Orchestration.Informers;
using Orchestration.WorkQueues;

namespace Orchestration.Controllers;

/// <summary>
/// Runs one controller: its watches feed a work queue of keys; its workers take keys and reconcile
/// them; a failure retries the key with backoff, a success forgets its failures, and a requested
/// requeue comes back after its delay.
/// </summary>
public sealed partial class ControllerRunner(IController controller, ControllerBuilder definition, WorkQueueOptions queueOptions, TimeProvider timeProvider, ILogger logger)
{
    /// <summary>Starts the watches on <paramref name="informers"/> and reconciles until cancelled.</summary>
    public async Task RunAsync(InformerFactory informers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(informers);
        using var queue = new WorkQueue<ObjectKey>(queueOptions, timeProvider);
        foreach (var source in definition.Sources)
        {
            source(informers, queue.Add);
        }

        using var registration = cancellationToken.Register(queue.ShutDown);
        var workers = Enumerable.Range(0, Math.Max(1, definition.Workers)).Select(_ => Task.Run(() => WorkAsync(queue, cancellationToken), CancellationToken.None));
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private async Task WorkAsync(WorkQueue<ObjectKey> queue, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (ok, key) = await queue.GetAsync(CancellationToken.None).ConfigureAwait(false);
            if (!ok)
            {
                return;
            }

            try
            {
                var result = await controller.ReconcileAsync(key, cancellationToken).ConfigureAwait(false);
                queue.Forget(key);
                if (result.RequeueAfter is { } delay)
                {
                    queue.AddAfter(key, delay);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                // A controller's failure is retried, never fatal to the process.
                LogReconcileFailed(ex, definition.Name, key, queue.Requeues(key) + 1);
                queue.AddRateLimited(key);
            }
            finally
            {
                queue.Done(key);
            }
        }
    }

    [LoggerMessage(EventId = 1420, Level = LogLevel.Warning, Message = "{Controller} failed to reconcile {Key} (retry {Retries})")]
    private partial void LogReconcileFailed(Exception ex, string controller, ObjectKey key, int retries);
}
