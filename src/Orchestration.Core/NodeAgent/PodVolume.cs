namespace Orchestration.NodeAgent;

/// <summary>A pod volume on the node.</summary>
/// <param name="HostPath">Its path on the node.</param>
/// <param name="ReadOnly">Whether every mount of it is read-only (configMap, secret and downwardAPI volumes).</param>
internal sealed record PodVolume(string HostPath, bool ReadOnly);
