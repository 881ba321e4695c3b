using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;

namespace Orchestration.Controllers.Auth;

/// <summary>
/// Gives every namespace its <c>default</c> ServiceAccount, as kube-controller-manager's
/// serviceaccount controller does: made when the namespace appears, and made again when it is
/// deleted, unless the namespace is going away.
/// </summary>
public sealed partial class ServiceAccountController(IClusterClient client, ILogger<ServiceAccountController> logger) : IController
{
    /// <summary>The ServiceAccount every namespace has.</summary>
    public const string DefaultName = "default";

    /// <summary>Registers the controller: namespaces, and a namespace again when its default ServiceAccount goes.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Namespace>().Watches<V1ServiceAccount>((_, account) => account.Metadata.Name == DefaultName
            ? [new ObjectKey(null, account.Metadata.NamespaceProperty)]
            : []);
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        if (!await ActiveNamespace.IsActiveAsync(client, key.Name, cancellationToken).ConfigureAwait(false))
        {
            return ReconcileResult.Done;
        }

        try
        {
            await client.GetAsync<V1ServiceAccount>(key.Name, DefaultName, cancellationToken).ConfigureAwait(false);
            return ReconcileResult.Done;
        }
        catch (NotFoundException)
        {
        }

        try
        {
            await client.CreateAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = DefaultName, NamespaceProperty = key.Name } }, cancellationToken).ConfigureAwait(false);
            LogCreated(key.Name);
        }
        catch (AlreadyExistsException)
        {
        }
        catch (ForbiddenException)
        {
            // The namespace began terminating meanwhile: nothing to give it.
        }

        return ReconcileResult.Done;
    }

    [LoggerMessage(EventId = 1530, Level = LogLevel.Information, Message = "Created the default ServiceAccount of namespace {Namespace}")]
    private partial void LogCreated(string @namespace);
}
