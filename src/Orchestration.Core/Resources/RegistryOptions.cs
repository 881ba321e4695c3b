namespace Orchestration.Resources;

/// <summary>How the registry that <c>AddOrchestrationState</c> registers behaves.</summary>
public sealed class RegistryOptions
{
    /// <summary>
    /// Whether deleting a pod bound to a node only marks it, so its node agent stops its containers
    /// within the grace period and then deletes it (see <see cref="ObjectRegistry.GracefulPodDeletion"/>).
    /// Hosts that run node agents turn it on; <c>orch up</c> does.
    /// </summary>
    public bool GracefulPodDeletion { get; set; }

    /// <summary>How objects are encrypted at rest (none by default); see <see cref="Encryption.StorageEncryption"/>.</summary>
    public Encryption.StorageEncryption Encryption { get; set; } = Resources.Encryption.StorageEncryption.None;
}
