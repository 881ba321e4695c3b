using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Informers;
using Orchestration.Runtime;
using Orchestration.WorkQueues;

namespace Orchestration.NodeAgent;

/// <summary>
/// The kubelet role: registers its Node (capacity, allocatable, runtime version), renews its Lease
/// in kube-node-lease, watches the pods bound to it, runs them through <see cref="INodeRuntime"/>
/// (a sandbox with the pod's IP, then its containers) and reports their status; when a pod goes,
/// its sandbox and containers go too.
/// </summary>
public sealed class NodeAgent(IClusterClient client, INodeRuntime runtime, NodeAgentOptions options, TimeProvider? timeProvider = null, ILogger? logger = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private string? _podCidr;

    /// <summary>The node's name.</summary>
    public string NodeName => options.NodeName;

    /// <summary>Registers the node and runs its pods until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await RegisterAsync(cancellationToken).ConfigureAwait(false);
        var informer = new Informer<V1Pod>(client, new InformerOptions { FieldSelector = $"spec.nodeName={options.NodeName}" }, _time, _logger);
        using var queue = new WorkQueue<ObjectKey>(new WorkQueueOptions { BaseDelay = TimeSpan.FromMilliseconds(200) }, _time);
        informer.Added += p => queue.Add(KeyOf(p));
        informer.Updated += (_, p) => queue.Add(KeyOf(p));
        informer.Deleted += p => queue.Add(KeyOf(p));
        using var registration = cancellationToken.Register(queue.ShutDown);
        var tasks = new List<Task>
        {
            informer.RunAsync(cancellationToken),
            RenewLeaseAsync(cancellationToken),
        };
        tasks.AddRange(Enumerable.Range(0, options.Workers).Select(_ => WorkAsync(informer, queue, cancellationToken)));
        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task WorkAsync(Informer<V1Pod> informer, WorkQueue<ObjectKey> queue, CancellationToken cancellationToken)
    {
        while (true)
        {
            var (ok, key) = await queue.GetAsync(CancellationToken.None).ConfigureAwait(false);
            if (!ok)
            {
                return;
            }

            try
            {
                await SyncPodAsync(key, informer.Cache.Get(key.Namespace, key.Name), cancellationToken).ConfigureAwait(false);
                queue.Forget(key);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Node {Node}: pod {Pod} failed to sync", options.NodeName, key);
                queue.AddRateLimited(key);
            }
            finally
            {
                queue.Done(key);
            }
        }
    }

    private async Task SyncPodAsync(ObjectKey key, V1Pod? pod, CancellationToken cancellationToken)
    {
        var sandboxes = (await runtime.ListPodSandboxesAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Config.Namespace == key.Namespace && s.Config.Name == key.Name)
            .ToList();
        foreach (var stale in sandboxes.Where(s => pod is null || pod.Metadata.DeletionTimestamp is not null || s.Config.Uid != pod.Metadata.Uid))
        {
            await runtime.StopPodSandboxAsync(stale.Id, cancellationToken).ConfigureAwait(false);
            await runtime.RemovePodSandboxAsync(stale.Id, cancellationToken).ConfigureAwait(false);
        }

        if (pod is null || pod.Metadata.DeletionTimestamp is not null || pod.Status?.Phase is "Succeeded" or "Failed")
        {
            return;
        }

        await EnsurePodCidrAsync(cancellationToken).ConfigureAwait(false);
        var sandbox = await runtime.RunPodSandboxAsync(new PodSandboxConfig(key.Namespace ?? "default", key.Name, pod.Metadata.Uid), cancellationToken).ConfigureAwait(false);
        var containers = await runtime.ListContainersAsync(sandbox.Id, cancellationToken).ConfigureAwait(false);
        foreach (var container in pod.Spec.Containers ?? [])
        {
            if (containers.Any(c => c.Name == container.Name))
            {
                continue;
            }

            var id = await runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig(
                container.Name,
                container.Image,
                container.Command?.ToList() ?? [],
                container.Args?.ToList() ?? [],
                (container.Env ?? []).Where(e => e.Value is not null).ToDictionary(e => e.Name, e => e.Value)), cancellationToken).ConfigureAwait(false);
            await runtime.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
        }

        containers = await runtime.ListContainersAsync(sandbox.Id, cancellationToken).ConfigureAwait(false);
        await ReportAsync(pod, sandbox, containers, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReportAsync(V1Pod pod, PodSandbox sandbox, IReadOnlyList<ContainerStatus> containers, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().UtcDateTime;
        var statuses = (pod.Spec.Containers ?? []).Select(spec =>
        {
            var c = containers.FirstOrDefault(x => x.Name == spec.Name);
            var running = c?.State == ContainerState.Running;
            return new V1ContainerStatus
            {
                Name = spec.Name,
                Image = spec.Image,
                ImageID = spec.Image,
                ContainerID = c is null ? null : $"{runtime.Version.Split(':')[0]}://{c.Id}",
                Ready = running,
                Started = running,
                RestartCount = 0,
                State = c?.State switch
                {
                    ContainerState.Running => new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = c.StartedAt?.UtcDateTime } },
                    ContainerState.Exited => new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = c.ExitCode ?? 0, Reason = c.Reason, StartedAt = c.StartedAt?.UtcDateTime, FinishedAt = c.FinishedAt?.UtcDateTime } },
                    _ => new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "ContainerCreating" } },
                },
            };
        }).ToList();
        var ready = statuses.Count > 0 && statuses.All(s => s.Ready);
        var exited = statuses.Count > 0 && statuses.All(s => s.State.Terminated is not null);
        var phase = exited
            ? (statuses.All(s => s.State.Terminated.ExitCode == 0) ? "Succeeded" : "Failed")
            : statuses.Any(s => s.State.Running is not null) ? "Running" : "Pending";
        string Flag(bool value) => value ? "True" : "False";
        var status = new V1PodStatus
        {
            Phase = phase,
            PodIP = sandbox.Ip,
            PodIPs = [new V1PodIP { Ip = sandbox.Ip }],
            HostIP = null,
            StartTime = pod.Status?.StartTime ?? now,
            QosClass = pod.Status?.QosClass ?? "BestEffort",
            ContainerStatuses = statuses,
            Conditions =
            [
                new V1PodCondition { Type = "PodScheduled", Status = "True", LastTransitionTime = Transition(pod, "PodScheduled", "True", now) },
                new V1PodCondition { Type = "Initialized", Status = "True", LastTransitionTime = Transition(pod, "Initialized", "True", now) },
                new V1PodCondition { Type = "ContainersReady", Status = Flag(ready), LastTransitionTime = Transition(pod, "ContainersReady", Flag(ready), now) },
                new V1PodCondition { Type = "Ready", Status = Flag(ready), LastTransitionTime = Transition(pod, "Ready", Flag(ready), now) },
            ],
        };
        if (Same(pod.Status, status))
        {
            return;
        }

        pod.Status = status;
        try
        {
            await client.UpdateStatusAsync(pod, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConflictException or NotFoundException)
        {
            // A newer pod or none: its own event brings it back.
        }
    }

    private static DateTime Transition(V1Pod pod, string type, string status, DateTime now) =>
        pod.Status?.Conditions?.FirstOrDefault(c => c.Type == type && c.Status == status)?.LastTransitionTime ?? now;

    private static bool Same(V1PodStatus? a, V1PodStatus b) =>
        a is not null && a.Phase == b.Phase && a.PodIP == b.PodIP
        && (a.ContainerStatuses?.Count ?? 0) == b.ContainerStatuses.Count
        && a.ContainerStatuses!.Zip(b.ContainerStatuses).All(p => p.First.Ready == p.Second.Ready && (p.First.State?.Running is null) == (p.Second.State.Running is null) && (p.First.State?.Terminated is null) == (p.Second.State.Terminated is null))
        && (a.Conditions?.Count ?? 0) == b.Conditions.Count
        && a.Conditions!.Zip(b.Conditions).All(p => p.First.Type == p.Second.Type && p.First.Status == p.Second.Status);

    private async Task EnsurePodCidrAsync(CancellationToken cancellationToken)
    {
        if (_podCidr is not null)
        {
            return;
        }

        var node = await client.GetAsync<V1Node>(null, options.NodeName, cancellationToken).ConfigureAwait(false);
        var cidr = node.Spec?.PodCIDR;
        if (string.IsNullOrEmpty(cidr))
        {
            // Node IPAM has not given this node its block yet: the pod is retried shortly.
            throw new InvalidOperationException($"node {options.NodeName} has no pod CIDR yet");
        }

        await runtime.UpdateRuntimeConfigAsync(cidr, cancellationToken).ConfigureAwait(false);
        _podCidr = cidr;
    }

    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        var labels = new Dictionary<string, string>(options.Labels)
        {
            ["kubernetes.io/hostname"] = options.NodeName,
            ["kubernetes.io/os"] = "linux",
            ["kubernetes.io/arch"] = "amd64",
        };
        V1Node node;
        try
        {
            node = await client.CreateAsync(new V1Node { Metadata = new V1ObjectMeta { Name = options.NodeName, Labels = labels } }, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
            node = await client.GetAsync<V1Node>(null, options.NodeName, cancellationToken).ConfigureAwait(false);
        }

        var resources = new Dictionary<string, ResourceQuantity> { ["cpu"] = new(options.Cpu), ["memory"] = new(options.Memory), ["pods"] = new(options.MaxPods.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
        var now = _time.GetUtcNow().UtcDateTime;
        node.Status = new V1NodeStatus
        {
            Capacity = resources,
            Allocatable = resources,
            Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady", Message = "the node agent is posting ready status", LastHeartbeatTime = now, LastTransitionTime = now }],
            NodeInfo = new V1NodeSystemInfo
            {
                KubeletVersion = "v1.33.0-orchestration",
                ContainerRuntimeVersion = runtime.Version,
                OperatingSystem = "linux",
                Architecture = "amd64",
                OsImage = "Orchestration simulated node",
                KernelVersion = Environment.OSVersion.Version.ToString(),
                MachineID = options.NodeName,
                SystemUUID = options.NodeName,
                BootID = Guid.NewGuid().ToString(),
                KubeProxyVersion = "",
            },
        };
        await client.UpdateStatusAsync(node, cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("Node {Node} registered", options.NodeName);
    }

    private async Task RenewLeaseAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var now = _time.GetUtcNow().UtcDateTime;
                try
                {
                    var lease = await client.GetAsync<V1Lease>("kube-node-lease", options.NodeName, cancellationToken).ConfigureAwait(false);
                    lease.Spec.RenewTime = now;
                    await client.UpdateAsync(lease, cancellationToken).ConfigureAwait(false);
                }
                catch (NotFoundException)
                {
                    await client.CreateAsync(new V1Lease
                    {
                        Metadata = new V1ObjectMeta { Name = options.NodeName, NamespaceProperty = "kube-node-lease" },
                        Spec = new V1LeaseSpec { HolderIdentity = options.NodeName, LeaseDurationSeconds = (int)options.LeaseDuration.TotalSeconds, RenewTime = now },
                    }, cancellationToken).ConfigureAwait(false);
                }

                await Task.Delay(options.RenewInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException)
            {
                _logger.LogWarning(ex, "Node {Node}: renewing its lease failed", options.NodeName);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static ObjectKey KeyOf(V1Pod pod) => new(pod.Metadata.NamespaceProperty, pod.Metadata.Name);
}
