using Orchestration.Runtime;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// A runtime holding only pod default/web (sandbox <c>sandbox-1</c>) with one running container
/// <c>main</c>, for tests of the node agent's server; it refuses every change.
/// </summary>
internal class OnePodRuntime : INodeRuntime
{
    /// <summary>The pod's sandbox.</summary>
    protected static readonly PodSandbox Sandbox = new("sandbox-1", new PodSandboxConfig("default", "web", "uid-1"), "127.0.0.1", Ready: true);

    public string Version => "test://1";

    /// <summary>The log file the container reports, if any.</summary>
    protected virtual string? LogPath => null;

    public Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task StartContainerAsync(string containerId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<PodSandbox>>([Sandbox]);

    public Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ContainerStatus>>([new ContainerStatus("c-1", Sandbox.Id, "main", "busybox", ContainerState.Running, DateTimeOffset.UnixEpoch, null, null, null) { LogPath = LogPath }]);

    public Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) => throw new NotSupportedException();
}
