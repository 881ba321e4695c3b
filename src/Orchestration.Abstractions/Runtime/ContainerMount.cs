namespace Orchestration.Runtime;

/// <summary>A node path bound into a container (CRI's Mount).</summary>
/// <param name="ContainerPath">Where it appears in the container.</param>
/// <param name="HostPath">The directory or file on the node; runtimes follow a symbolic link to what it names.</param>
/// <param name="ReadOnly">Whether the container may only read it.</param>
public sealed record ContainerMount(string ContainerPath, string HostPath, bool ReadOnly = false);
