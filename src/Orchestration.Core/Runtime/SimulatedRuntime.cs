using System.Collections.Concurrent;
using System.Net;
using Orchestration.Networking;

namespace Orchestration.Runtime;

/// <summary>
/// A runtime without containers (like KWOK): sandboxes get IPs from the node's pod CIDR and
/// containers run at once (or after <see cref="StartDelay"/>), until told to exit. Thousands of
/// nodes fit in one process.
/// </summary>
public sealed class SimulatedRuntime(TimeProvider? timeProvider = null) : INodeRuntime
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, PodSandbox> _sandboxes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ContainerStatus> _containers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _usedIps = new(StringComparer.Ordinal);
    private IPNetwork? _podCidr;
    private long _ids;

    /// <summary>How long a container takes to start.</summary>
    public TimeSpan StartDelay { get; set; }

    /// <inheritdoc />
    public string Version => "simulated://0.1.0";

    /// <inheritdoc />
    public Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken)
    {
        _podCidr = IPNetwork.Parse(podCidr);
        return Task.CompletedTask;
    }

    /// <summary>Makes a running container exit, as a crash or completion would.</summary>
    public void Exit(string containerId, int exitCode, string reason)
    {
        if (_containers.TryGetValue(containerId, out var container) && container.State == ContainerState.Running)
        {
            _containers[containerId] = container with { State = ContainerState.Exited, ExitCode = exitCode, Reason = reason, FinishedAt = _time.GetUtcNow() };
        }
    }

    /// <inheritdoc />
    public Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var existing = _sandboxes.Values.FirstOrDefault(s => s.Config.Uid == config.Uid && s.Ready);
        if (existing is not null)
        {
            return Task.FromResult(existing);
        }

        var sandbox = new PodSandbox($"sandbox-{Interlocked.Increment(ref _ids)}", config, NextIp(), Ready: true);
        _sandboxes[sandbox.Id] = sandbox;
        return Task.FromResult(sandbox);
    }

    /// <inheritdoc />
    public Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        if (_sandboxes.TryGetValue(sandboxId, out var sandbox))
        {
            _sandboxes[sandboxId] = sandbox with { Ready = false };
            foreach (var container in _containers.Values.Where(c => c.SandboxId == sandboxId && c.State == ContainerState.Running))
            {
                Exit(container.Id, 137, "Killed");
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        if (_sandboxes.TryRemove(sandboxId, out var sandbox))
        {
            _usedIps.TryRemove(sandbox.Ip, out _);
            foreach (var container in _containers.Values.Where(c => c.SandboxId == sandboxId).ToList())
            {
                _containers.TryRemove(container.Id, out _);
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<string> CreateContainerAsync(string sandboxId, ContainerConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!_sandboxes.TryGetValue(sandboxId, out var sandbox) || !sandbox.Ready)
        {
            throw new InvalidOperationException($"sandbox {sandboxId} is not running");
        }

        var id = $"container-{Interlocked.Increment(ref _ids)}";
        _containers[id] = new ContainerStatus(id, sandboxId, config.Name, config.Image, ContainerState.Created, null, null, null, null);
        return Task.FromResult(id);
    }

    /// <inheritdoc />
    public async Task StartContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        if (StartDelay > TimeSpan.Zero)
        {
            await Task.Delay(StartDelay, _time, cancellationToken).ConfigureAwait(false);
        }

        if (_containers.TryGetValue(containerId, out var container))
        {
            _containers[containerId] = container with { State = ContainerState.Running, StartedAt = _time.GetUtcNow() };
        }
    }

    /// <inheritdoc />
    public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        Exit(containerId, 143, "Error");
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        _containers.TryRemove(containerId, out _);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<PodSandbox>>(_sandboxes.Values.ToList());

    /// <inheritdoc />
    public Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ContainerStatus>>(_containers.Values.Where(c => sandboxId is null || c.SandboxId == sandboxId).ToList());

    private string NextIp()
    {
        var network = _podCidr ?? throw new InvalidOperationException("the node has no pod CIDR yet");
        var size = Ipv4.Size(network);

        // .1 is the bridge's; hosts from .2 up.
        for (long offset = 2; offset < size - 1; offset++)
        {
            var ip = Ipv4.AddressAt(network, offset).ToString();
            if (_usedIps.TryAdd(ip, 0))
            {
                return ip;
            }
        }

        throw new InvalidOperationException($"the pod CIDR {network} is full");
    }
}
