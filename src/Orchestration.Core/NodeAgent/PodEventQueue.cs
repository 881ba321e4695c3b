using System.Threading.Channels;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Events;

namespace Orchestration.NodeAgent;

/// <summary>
/// The events a node agent reports about its pods (Pulled, Created, Started, Killing, BackOff,
/// Unhealthy), written by one loop so a pod's sync never waits on them. The queue is bounded and
/// drops what does not fit, as kubelet's event broadcaster does: events are a courtesy, and a node
/// under a storm of crashing pods must not flood the API with them.
/// </summary>
internal sealed partial class PodEventQueue(EventRecorder recorder, string nodeName, int capacity, ILogger logger)
{
    private readonly Channel<(V1Pod Pod, string Type, string Reason, string Message)> _events =
        Channel.CreateBounded<(V1Pod, string, string, string)>(new BoundedChannelOptions(Math.Max(1, capacity)) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    /// <summary>Queues an event about a pod (nothing when the capacity is 0: events are off).</summary>
    public void Post(V1Pod pod, string type, string reason, string message)
    {
        if (capacity > 0)
        {
            _events.Writer.TryWrite((pod, type, reason, message));
        }
    }

    /// <summary>Writes queued events until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var (pod, type, reason, message) in _events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await recorder.RecordAsync(pod, type, reason, message, "kubelet", nodeName, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogEventNotRecorded(ex, nodeName, reason, pod.Metadata.Name);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 3030, Level = LogLevel.Debug, Message = "Node {Node}: event {Reason} about pod {Pod} was not recorded")]
    private partial void LogEventNotRecorded(Exception ex, string node, string reason, string pod);
}
