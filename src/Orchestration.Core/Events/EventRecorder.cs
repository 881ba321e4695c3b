using System.Security.Cryptography;
using System.Text;
using k8s;
using k8s.Models;
using Orchestration.Client;

namespace Orchestration.Events;

/// <summary>
/// Records Kubernetes Events about objects, as components report what they did (<c>kubectl
/// describe</c> shows them): the same reason and message about the same object again raises the
/// count of one Event instead of adding another.
/// </summary>
public sealed class EventRecorder(IClusterClient client, TimeProvider timeProvider)
{
    /// <summary>Records a Normal or Warning event about <paramref name="subject"/>.</summary>
    public Task RecordAsync<T>(T subject, string type, string reason, string message, string component, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta> =>
        RecordAsync(subject, type, reason, message, component, host: null, cancellationToken);

    /// <summary>Records a Normal or Warning event about <paramref name="subject"/> from a component on node <paramref name="host"/> (kubelet's events name their node).</summary>
    public async Task RecordAsync<T>(T subject, string type, string reason, string message, string component, string? host, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(subject);
        var meta = subject.Metadata;
        var ns = string.IsNullOrEmpty(meta.NamespaceProperty) ? "default" : meta.NamespaceProperty;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{meta.Uid}/{reason}/{message}")))[..10];
        var name = $"{meta.Name}.{hash}";
        var now = timeProvider.GetUtcNow().UtcDateTime;
        try
        {
            var existing = await client.GetAsync<Corev1Event>(ns, name, cancellationToken).ConfigureAwait(false);
            existing.Count = (existing.Count ?? 1) + 1;
            existing.LastTimestamp = now;
            await client.UpdateAsync(existing, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            try
            {
                await client.CreateAsync(new Corev1Event
                {
                    Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                    InvolvedObject = new V1ObjectReference { ApiVersion = subject.ApiVersion, Kind = subject.Kind, Name = meta.Name, NamespaceProperty = meta.NamespaceProperty, Uid = meta.Uid, ResourceVersion = meta.ResourceVersion },
                    Type = type,
                    Reason = reason,
                    Message = message,
                    Source = new V1EventSource { Component = component, Host = host },
                    ReportingComponent = component,
                    ReportingInstance = host,
                    FirstTimestamp = now,
                    LastTimestamp = now,
                    Count = 1,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (AlreadyExistsException)
            {
                // Another writer recorded it first: it stands.
            }
        }
        catch (ConflictException)
        {
            // Bumped by another writer meanwhile: one count lost at worst.
        }
    }
}
