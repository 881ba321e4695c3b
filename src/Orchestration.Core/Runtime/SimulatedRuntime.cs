using System.Collections.Concurrent;
using System.Net;
using Orchestration.Networking;

namespace Orchestration.Runtime;

/// <summary>
/// A runtime without containers (like KWOK): sandboxes get IPs from the node's pod CIDR and
/// containers run at once (or after <see cref="StartDelay"/>) until they are stopped, told to exit,
/// or reach the end their command or an image rule gives them (see <see cref="AddExitRule"/> and
/// docs/node-agent.md: <c>sleep N</c> ends with 0 after N seconds, <c>exit N</c> ends with N).
/// Probes are answered from the health each container is given (<see cref="SetHealth"/>). Nothing
/// here runs a timer: a planned exit happens when the runtime is next asked, so thousands of nodes
/// fit in one process.
/// </summary>
public sealed class SimulatedRuntime(TimeProvider? timeProvider = null) : INodeRuntime, INetworkProber
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, PodSandbox> _sandboxes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SimulatedContainer> _containers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _usedIps = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SimulatedExit> _imageRules = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _health = new(StringComparer.Ordinal);
    private IPNetwork? _podCidr;
    private long _ids;

    /// <summary>How long a container takes to start.</summary>
    public TimeSpan StartDelay { get; set; }

    /// <summary>
    /// When set, new sandboxes are refused with this message, as a runtime refuses them when it
    /// lacks the sandbox image (<c>failed to pull image ...</c>); existing ones keep running.
    /// </summary>
    public string? SandboxFailure { get; set; }

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
        var now = _time.GetUtcNow();
        if (_containers.TryGetValue(containerId, out var found) && Current(found, now) is { Status.State: ContainerState.Running } container)
        {
            _containers[containerId] = container with { Status = container.Status with { State = ContainerState.Exited, ExitCode = exitCode, Reason = reason, FinishedAt = now } };
        }
    }

    /// <summary>
    /// Every container started from <paramref name="image"/> from now on exits with
    /// <paramref name="exitCode"/> after <paramref name="after"/> (zero: it fails on start), whatever its command says.
    /// </summary>
    public void AddExitRule(string image, int exitCode, TimeSpan after)
    {
        ArgumentNullException.ThrowIfNull(image);
        _imageRules[image] = new SimulatedExit(after, exitCode);
    }

    /// <summary>
    /// Whether the container <paramref name="containerName"/> of a pod passes its probes (exec,
    /// httpGet and tcpSocket alike); it holds across restarts, as a broken app stays broken. Healthy
    /// unless told otherwise.
    /// </summary>
    public void SetHealth(string @namespace, string podName, string containerName, bool healthy) =>
        _health[HealthKey(@namespace, podName, containerName)] = healthy;

    /// <summary>
    /// The config a container was created with (its env, mounts, working directory, limits), as a
    /// real runtime would apply it; null when there is no such container. Nothing is mounted or
    /// limited here: the config is only kept.
    /// </summary>
    public ContainerConfig? ConfigOf(string containerId) =>
        _containers.TryGetValue(containerId, out var container) ? container.Config : null;

    /// <inheritdoc />
    public Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        var existing = _sandboxes.Values.FirstOrDefault(s => s.Config.Uid == config.Uid && s.Ready);
        if (existing is not null)
        {
            return Task.FromResult(existing);
        }

        if (SandboxFailure is { } failure)
        {
            throw new InvalidOperationException(failure);
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
            foreach (var container in _containers.Values.Where(c => c.Status.SandboxId == sandboxId))
            {
                Exit(container.Status.Id, 137, "Error");
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
            foreach (var container in _containers.Values.Where(c => c.Status.SandboxId == sandboxId).ToList())
            {
                _containers.TryRemove(container.Status.Id, out _);
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
        var status = new ContainerStatus(id, sandboxId, config.Name, config.Image, ContainerState.Created, null, null, null, null, config.Attempt, config.Labels, _time.GetUtcNow());
        _containers[id] = new SimulatedContainer(status, config, sandbox.Config);
        return Task.FromResult(id);
    }

    /// <inheritdoc />
    public async Task StartContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        if (StartDelay > TimeSpan.Zero)
        {
            await Task.Delay(StartDelay, _time, cancellationToken).ConfigureAwait(false);
        }

        if (!_containers.TryGetValue(containerId, out var container))
        {
            throw new InvalidOperationException($"container {containerId} does not exist");
        }

        var config = container.Config;
        var end = _imageRules.TryGetValue(config.Image, out var rule) ? rule : SimulatedCommand.ExitOf(config.Command, config.Args);
        _containers[containerId] = container with { Status = container.Status with { State = ContainerState.Running, StartedAt = _time.GetUtcNow() }, End = end };
    }

    /// <inheritdoc />
    public Task StopContainerAsync(string containerId, TimeSpan gracePeriod, CancellationToken cancellationToken)
    {
        // A simulated process heeds the polite signal at once, as most do: 128 + SIGTERM.
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
    public Task<IReadOnlyList<ContainerStatus>> ListContainersAsync(string? sandboxId, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var list = new List<ContainerStatus>();
        foreach (var container in _containers.Values)
        {
            if (sandboxId is null || container.Status.SandboxId == sandboxId)
            {
                list.Add(Current(container, now).Status);
            }
        }

        return Task.FromResult<IReadOnlyList<ContainerStatus>>(list);
    }

    /// <inheritdoc />
    public Task<ExecResult> ExecSyncAsync(string containerId, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        var container = Running(containerId)
            ?? throw new InvalidOperationException($"container {containerId} is not running");
        if (!Healthy(container))
        {
            return Task.FromResult(new ExecResult(1, "simulated container is unhealthy"));
        }

        return Task.FromResult(new ExecResult(SimulatedCommand.ExecExitCode(command), ""));
    }

    /// <inheritdoc />
    public Task<ProbeResult> ProbeAsync(NetworkProbe probe, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(probe);
        var refused = $"dial tcp {probe.Host}:{probe.Port}: connect: connection refused";
        var container = Running(probe.ContainerId);
        if (container is null)
        {
            return Task.FromResult(new ProbeResult(false, probe.HttpPath is null ? refused : $"Get \"{Url(probe)}\": {refused}"));
        }

        if (Healthy(container))
        {
            return Task.FromResult(new ProbeResult(true, ""));
        }

        return Task.FromResult(new ProbeResult(false, probe.HttpPath is null ? refused : "HTTP probe failed with statuscode: 500"));
    }

    private static string Url(NetworkProbe probe) => $"{probe.Scheme.ToLowerInvariant()}://{probe.Host}:{probe.Port}{probe.HttpPath}";

    private SimulatedContainer? Running(string containerId) =>
        _containers.TryGetValue(containerId, out var container) && Current(container, _time.GetUtcNow()) is { Status.State: ContainerState.Running } current ? current : null;

    private bool Healthy(SimulatedContainer container) =>
        !_health.TryGetValue(HealthKey(container.Pod.Namespace, container.Pod.Name, container.Status.Name), out var healthy) || healthy;

    private static string HealthKey(string @namespace, string podName, string containerName) => $"{@namespace}/{podName}/{containerName}";

    // A planned exit happens when someone looks: no timer per container.
    private SimulatedContainer Current(SimulatedContainer container, DateTimeOffset now)
    {
        if (container.Status is not { State: ContainerState.Running, StartedAt: { } started } || container.End is not { } end || started + end.After > now)
        {
            return container;
        }

        var exited = container with
        {
            Status = container.Status with { State = ContainerState.Exited, ExitCode = end.ExitCode, Reason = end.ExitCode == 0 ? "Completed" : "Error", FinishedAt = started + end.After },
        };
        _containers.TryUpdate(container.Status.Id, exited, container);
        return exited;
    }

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

    private sealed record SimulatedContainer(ContainerStatus Status, ContainerConfig Config, PodSandboxConfig Pod, SimulatedExit? End = null);
}
