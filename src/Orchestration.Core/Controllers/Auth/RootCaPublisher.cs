using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources.Admission;

namespace Orchestration.Controllers.Auth;

/// <summary>
/// Puts the cluster's CA certificate in every namespace, as kube-controller-manager's root-ca-cert-publisher
/// does: a ConfigMap <c>kube-root-ca.crt</c> whose <c>ca.crt</c> is the CA that signed the API
/// server's certificate, which the pods' <c>kube-api-access</c> volumes project for their clients.
/// A ConfigMap changed or deleted by someone is put back.
/// </summary>
public sealed partial class RootCaPublisher(IClusterClient client, IEnumerable<IRootCaSource> sources, ILogger<RootCaPublisher> logger) : IController
{
    private const string Description = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

    /// <summary>Registers the controller: namespaces, and a namespace again when its ConfigMap changes.</summary>
    public static void Configure(ControllerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.For<V1Namespace>().Watches<V1ConfigMap>((_, map) => map.Metadata.Name == ServiceAccountAdmission.RootCaConfigMap
            ? [new ObjectKey(null, map.Metadata.NamespaceProperty)]
            : []);
    }

    /// <inheritdoc />
    public async Task<ReconcileResult> ReconcileAsync(ObjectKey key, CancellationToken cancellationToken)
    {
        var sourceList = sources.ToList();
        if (sourceList.Count == 0)
        {
            // No API server composed with this controller manager knows a CA: nothing to publish.
            return ReconcileResult.Done;
        }

        if (sourceList.Select(s => s.CertificatePem).FirstOrDefault(p => p is not null) is not { } pem)
        {
            return ReconcileResult.After(TimeSpan.FromSeconds(1));
        }

        if (!await ActiveNamespace.IsActiveAsync(client, key.Name, cancellationToken).ConfigureAwait(false))
        {
            return ReconcileResult.Done;
        }

        try
        {
            var existing = await client.GetAsync<V1ConfigMap>(key.Name, ServiceAccountAdmission.RootCaConfigMap, cancellationToken).ConfigureAwait(false);
            if (existing.Data?.TryGetValue("ca.crt", out var current) == true && current == pem && existing.Data.Count == 1)
            {
                return ReconcileResult.Done;
            }

            existing.Data = new Dictionary<string, string> { ["ca.crt"] = pem };
            existing.BinaryData = null;
            await client.UpdateAsync(existing, cancellationToken).ConfigureAwait(false);
            LogPublished(key.Name);
            return ReconcileResult.Done;
        }
        catch (NotFoundException)
        {
        }
        catch (ConflictException)
        {
            return ReconcileResult.After(TimeSpan.Zero);
        }

        try
        {
            await client.CreateAsync(
                new V1ConfigMap
                {
                    Metadata = new V1ObjectMeta
                    {
                        Name = ServiceAccountAdmission.RootCaConfigMap,
                        NamespaceProperty = key.Name,
                        Annotations = new Dictionary<string, string> { ["kubernetes.io/description"] = Description },
                    },
                    Data = new Dictionary<string, string> { ["ca.crt"] = pem },
                },
                cancellationToken).ConfigureAwait(false);
            LogPublished(key.Name);
        }
        catch (AlreadyExistsException)
        {
            return ReconcileResult.After(TimeSpan.Zero);
        }
        catch (ForbiddenException)
        {
            // The namespace began terminating meanwhile.
        }

        return ReconcileResult.Done;
    }

    [LoggerMessage(EventId = 1531, Level = LogLevel.Debug, Message = "Published the cluster's CA certificate in namespace {Namespace}")]
    private partial void LogPublished(string @namespace);
}
