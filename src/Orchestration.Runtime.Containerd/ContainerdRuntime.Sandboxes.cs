namespace Orchestration.Runtime.Containerd;

// Pod sandboxes through CRI's RuntimeService: run with the pod's CNI network and port mappings, taking the next attempt when a dead one holds the name; listed with their addresses.
public sealed partial class ContainerdRuntime
{
    /// <inheritdoc />
    /// <remarks>
    /// containerd renders its CNI config from the CIDR when its config has a <c>conf_template</c>
    /// (as <see cref="ContainerdHost"/> writes it); until then it cannot give sandboxes an IP.
    /// </remarks>
    public async Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(podCidr);
        var request = new Cri.UpdateRuntimeConfigRequest { RuntimeConfig = new Cri.RuntimeConfig { NetworkConfig = new Cri.NetworkConfig { PodCidr = podCidr } } };
        await CallAsync("UpdateRuntimeConfig", () => _runtime.UpdateRuntimeConfigAsync(request, Options(cancellationToken))).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);

        // One ready sandbox per pod, as the simulated runtime keeps it: a retried sync must not leak a second one.
        var existing = await ListSandboxesAsync(new Cri.PodSandboxFilter
        {
            State = new Cri.PodSandboxStateValue { State = Cri.PodSandboxState.SandboxReady },
            LabelSelector = { [PodLabels.Uid] = config.Uid },
        }, cancellationToken).ConfigureAwait(false);
        if (existing.Count > 0)
        {
            return existing[0];
        }

        // containerd keeps a sandbox's name (pod, namespace, uid, attempt) reserved after a failed
        // start or for a dead sandbox not yet removed; kubelet counts the attempt up for a new one.
        Cri.RunPodSandboxResponse response;
        for (var attempt = 0u; ; attempt++)
        {
            var request = new Cri.RunPodSandboxRequest { Config = SandboxConfig(config, attempt) };
            try
            {
                response = await CallAsync("RunPodSandbox", () => _runtime.RunPodSandboxAsync(request, Options(cancellationToken)), $"pod {config.Namespace}/{config.Name}").ConfigureAwait(false);
                break;
            }
            catch (InvalidOperationException ex) when (attempt < MaxSandboxAttempts && ex.Message.Contains("failed to reserve sandbox name", StringComparison.Ordinal))
            {
                LogSandboxNameTaken(config.Namespace, config.Name, attempt);
            }
        }

        var status = await SandboxStatusAsync(response.PodSandboxId, cancellationToken).ConfigureAwait(false);
        LogSandboxRuns(response.PodSandboxId, config.Namespace, config.Name, status.Ip);
        return status;
    }

    /// <inheritdoc />
    public async Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        await CallAsync("StopPodSandbox", () => _runtime.StopPodSandboxAsync(new Cri.StopPodSandboxRequest { PodSandboxId = sandboxId }, Options(cancellationToken)), $"sandbox {sandboxId}", ignoreNotFound: true).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        await CallAsync("RemovePodSandbox", () => _runtime.RemovePodSandboxAsync(new Cri.RemovePodSandboxRequest { PodSandboxId = sandboxId }, Options(cancellationToken)), $"sandbox {sandboxId}", ignoreNotFound: true).ConfigureAwait(false);
        _sandboxIps.TryRemove(sandboxId, out _);
        foreach (var status in _statuses.Values.Where(s => s.SandboxId == sandboxId))
        {
            _statuses.TryRemove(status.Id, out _);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) =>
        ListSandboxesAsync(null, cancellationToken);

    private Cri.PodSandboxConfig SandboxConfig(PodSandboxConfig config, uint attempt)
    {
        var sandbox = new Cri.PodSandboxConfig
        {
            Metadata = new Cri.PodSandboxMetadata { Name = config.Name, Namespace = config.Namespace, Uid = config.Uid, Attempt = attempt },

            // A hostname is a DNS label: at most 63 characters.
            Hostname = config.Name.Length > 63 ? config.Name[..63] : config.Name,
            Labels =
            {
                [PodLabels.Name] = config.Name,
                [PodLabels.Namespace] = config.Namespace,
                [PodLabels.Uid] = config.Uid,
            },
            Linux = new Cri.LinuxPodSandboxConfig(),

            // containerd hands these to the CNI portmap plugin (the host's CNI config asks for portMappings).
            PortMappings = { config.PortMappings.Select(p => new Cri.PortMapping { Protocol = Protocol(p.Protocol), ContainerPort = p.ContainerPort, HostPort = p.HostPort, HostIp = p.HostIp ?? "" }) },
        };
        if (config.Dns is { } dns)
        {
            // containerd writes the sandbox's resolv.conf from this; without it the node's is copied.
            sandbox.DnsConfig = new Cri.DNSConfig { Servers = { dns.Servers }, Searches = { dns.Searches }, Options = { dns.Options } };
        }

        if (_options.PodLogDirectory is { } logs)
        {
            sandbox.LogDirectory = Path.Combine(logs, $"{config.Namespace}_{config.Name}_{config.Uid}");
        }

        return sandbox;
    }

    private static Cri.Protocol Protocol(string protocol) => protocol.ToUpperInvariant() switch
    {
        "UDP" => Cri.Protocol.Udp,
        "SCTP" => Cri.Protocol.Sctp,
        _ => Cri.Protocol.Tcp,
    };

    private async Task<PodSandbox> SandboxStatusAsync(string sandboxId, CancellationToken cancellationToken)
    {
        var response = await CallAsync("PodSandboxStatus", () => _runtime.PodSandboxStatusAsync(new Cri.PodSandboxStatusRequest { PodSandboxId = sandboxId }, Options(cancellationToken)), $"sandbox {sandboxId}").ConfigureAwait(false);
        var status = response.Status;
        var ready = status.State == Cri.PodSandboxState.SandboxReady;
        if (ready && !string.IsNullOrEmpty(status.Network?.Ip))
        {
            _sandboxIps[status.Id] = status.Network.Ip;
        }

        return new PodSandbox(status.Id, ToConfig(status.Metadata), status.Network?.Ip ?? "", ready);
    }

    private async Task<IReadOnlyList<PodSandbox>> ListSandboxesAsync(Cri.PodSandboxFilter? filter, CancellationToken cancellationToken)
    {
        var request = new Cri.ListPodSandboxRequest { Filter = filter };
        var response = await CallAsync("ListPodSandbox", () => _runtime.ListPodSandboxAsync(request, Options(cancellationToken))).ConfigureAwait(false);
        var list = new List<PodSandbox>(response.Items.Count);
        foreach (var item in response.Items)
        {
            // The list carries no IP; ready sandboxes need theirs (the agent reports it as podIP).
            var ip = "";
            if (item.State == Cri.PodSandboxState.SandboxReady && !_sandboxIps.TryGetValue(item.Id, out ip!))
            {
                try
                {
                    ip = (await SandboxStatusAsync(item.Id, cancellationToken).ConfigureAwait(false)).Ip;
                }
                catch (InvalidOperationException)
                {
                    continue; // removed since the list
                }
            }

            list.Add(new PodSandbox(item.Id, ToConfig(item.Metadata), ip ?? "", item.State == Cri.PodSandboxState.SandboxReady));
        }

        if (filter is null)
        {
            var present = response.Items.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _sandboxIps.Keys.Where(id => !present.Contains(id)))
            {
                _sandboxIps.TryRemove(gone, out _);
            }
        }

        return list;
    }

    private static PodSandboxConfig ToConfig(Cri.PodSandboxMetadata? metadata) =>
        new(metadata?.Namespace ?? "", metadata?.Name ?? "", metadata?.Uid ?? "");
}
