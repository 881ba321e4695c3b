using k8s.Models;
using Orchestration.Client;
using Orchestration.Controllers;

namespace Orchestration.Samples.GreetingController;

/// <summary>
/// Keeps a ConfigMap named <c>&lt;greeting&gt;-greeting</c> with the Greeting's message, owned by
/// the Greeting (so deleting the Greeting deletes it), and reports it in the status.
/// </summary>
public sealed class GreetingReconciler(IClusterClient client) : IController
{
    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        Greeting greeting;
        try
        {
            greeting = await client.GetAsync<Greeting>(key.Namespace, key.Name, cancellationToken);
        }
        catch (NotFoundException)
        {
            // Gone: the garbage collector removes what it owned.
            return ReconcileResult.Done;
        }

        var name = $"{greeting.Metadata.Name}-greeting";
        var wanted = new Dictionary<string, string> { ["message"] = greeting.Spec.Message };
        try
        {
            var existing = await client.GetAsync<V1ConfigMap>(key.Namespace, name, cancellationToken);
            if (existing.Data is null || !existing.Data.TryGetValue("message", out var message) || message != greeting.Spec.Message)
            {
                existing.Data = wanted;
                await client.UpdateAsync(existing, cancellationToken);
            }
        }
        catch (NotFoundException)
        {
            await client.CreateAsync(new V1ConfigMap
            {
                Metadata = new V1ObjectMeta
                {
                    Name = name,
                    NamespaceProperty = key.Namespace,
                    OwnerReferences = [new V1OwnerReference { ApiVersion = greeting.ApiVersion, Kind = greeting.Kind, Name = greeting.Metadata.Name, Uid = greeting.Metadata.Uid, Controller = true, BlockOwnerDeletion = true }],
                },
                Data = wanted,
            }, cancellationToken);
        }

        if (greeting.Status?.ObservedGeneration != greeting.Metadata.Generation)
        {
            greeting.Status = new GreetingStatus { ObservedGeneration = greeting.Metadata.Generation, ConfigMap = name };
            await client.UpdateStatusAsync(greeting, cancellationToken);
        }

        return ReconcileResult.Done;
    }
}
