namespace Orchestration.NodeAgent;

/// <summary>One file of a ConfigMap, Secret or downward API volume.</summary>
/// <param name="Content">Its bytes.</param>
/// <param name="Mode">Its permission bits (the volume's <c>defaultMode</c> or the item's <c>mode</c>).</param>
internal sealed record VolumeFile(byte[] Content, UnixFileMode Mode);
