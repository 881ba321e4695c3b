namespace Orchestration.NodeAgent;

/// <summary>
/// A pod volume could not be set up (its ConfigMap or Secret is missing, a hostPath fails its type
/// check, the type is not supported): the pod's containers wait in ContainerCreating and a
/// <c>FailedMount</c> event says why, in kubelet's words, until a later sync succeeds.
/// </summary>
internal sealed class VolumeSetUpException(string volumeName, string reason) : Exception($"MountVolume.SetUp failed for volume \"{volumeName}\" : {reason}")
{
    /// <summary>The volume's name in the pod.</summary>
    public string VolumeName { get; } = volumeName;
}
