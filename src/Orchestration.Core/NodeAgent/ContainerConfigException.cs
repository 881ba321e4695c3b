namespace Orchestration.NodeAgent;

/// <summary>
/// A container's config cannot be built from its pod yet (a ConfigMap, Secret or key it names is
/// missing, a field it references is unsupported): kubelet's CreateContainerConfigError. The
/// message is kubelet's (<c>configmap "x" not found</c>); the agent tries again later.
/// </summary>
internal sealed class ContainerConfigException(string message) : Exception(message);
