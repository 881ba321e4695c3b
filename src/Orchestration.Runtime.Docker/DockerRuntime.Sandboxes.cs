using System.Globalization;
using System.Net;
using Docker.DotNet.Models;

namespace Orchestration.Runtime.Docker;

// Pod sandboxes: a container that holds the pod's namespaces, on the node's bridge network with an address from its pod CIDR.
public sealed partial class DockerRuntime
{
    /// <inheritdoc />
    /// <remarks>
    /// Creates the bridge network <see cref="DockerRuntimeOptions.NetworkName"/> with the CIDR as its
    /// subnet and its first address as the gateway, or keeps it when it already has that subnet. A
    /// network with another subnet is replaced while no container uses it.
    /// </remarks>
    /// <exception cref="InvalidOperationException">The network exists with another subnet and containers still use it.</exception>
    public async Task UpdateRuntimeConfigAsync(string podCidr, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(podCidr);
        var subnet = IPNetwork.Parse(podCidr);
        var gateway = Gateway(subnet);
        await _networkLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var existing = await FindNetworkAsync(cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                var subnets = existing.IPAM?.Config?.Select(c => c.Subnet).ToList() ?? [];
                if (subnets.Count == 1 && IPNetwork.TryParse(subnets[0], out var current) && current == subnet)
                {
                    return;
                }

                if (existing.Containers is { Count: > 0 })
                {
                    throw new InvalidOperationException($"The Docker network {_options.NetworkName} has subnet {string.Join(", ", subnets)}, not the node's pod CIDR {podCidr}, and {existing.Containers.Count} container(s) still use it; remove those pods (or the network) first.");
                }

                LogNetworkReplaced(_options.NetworkName, string.Join(", ", subnets), podCidr);
                await CallAsync("network remove", cancellationToken, ct => _client.Networks.DeleteNetworkAsync(existing.ID, ct), ignoreNotFound: true).ConfigureAwait(false);
            }

            var parameters = new NetworksCreateParameters
            {
                Name = _options.NetworkName,
                Driver = "bridge",
                CheckDuplicate = true,
                IPAM = new IPAM { Driver = "default", Config = [new IPAMConfig { Subnet = subnet.ToString(), Gateway = gateway }] },
                Options = new Dictionary<string, string> { ["com.docker.network.bridge.name"] = _options.BridgeName },
                Labels = new Dictionary<string, string> { [Labels.Kind] = "pod-network" },
            };
            await CallAsync("network create", cancellationToken, ct => _client.Networks.CreateNetworkAsync(parameters, ct), _options.NetworkName).ConfigureAwait(false);
            LogNetworkCreated(_options.NetworkName, podCidr, gateway);
        }
        finally
        {
            _networkLock.Release();
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The pod network does not exist yet (no pod CIDR), or dockerd refused the sandbox.</exception>
    /// <exception cref="ImageNotPresentException">dockerd does not hold the sandbox image.</exception>
    public async Task<PodSandbox> RunPodSandboxAsync(PodSandboxConfig config, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);

        // One running sandbox per pod, as the simulated runtime keeps it: a retried sync must not leak a second one.
        var existing = (await ListSandboxesAsync(config.Uid, cancellationToken).ConfigureAwait(false)).FirstOrDefault(s => s.Ready);
        if (existing is not null)
        {
            return existing;
        }

        if (await FindNetworkAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            throw new InvalidOperationException($"The pod network {_options.NetworkName} does not exist yet, so pod {config.Namespace}/{config.Name} cannot get an IP: the node has no pod CIDR (UpdateRuntimeConfig) yet.");
        }

        var image = ImageReference.Normalize(_options.SandboxImage);
        if (!await HasImageAsync(image, cancellationToken).ConfigureAwait(false))
        {
            throw new ImageNotPresentException(_options.SandboxImage, image);
        }

        var exposed = new Dictionary<string, EmptyStruct>(StringComparer.Ordinal);
        var bindings = new Dictionary<string, IList<PortBinding>>(StringComparer.Ordinal);
        foreach (var mapping in config.PortMappings)
        {
            var port = $"{mapping.ContainerPort.ToString(CultureInfo.InvariantCulture)}/{mapping.Protocol.ToLowerInvariant()}";
            exposed[port] = default;
            if (!bindings.TryGetValue(port, out var list))
            {
                bindings[port] = list = [];
            }

            list.Add(new PortBinding { HostIP = mapping.HostIp ?? "", HostPort = mapping.HostPort.ToString(CultureInfo.InvariantCulture) });
        }

        var parameters = new CreateContainerParameters
        {
            Name = ContainerName("POD", config, 0),
            Image = image,

            // A hostname is a DNS label: at most 63 characters.
            Hostname = config.Name.Length > 63 ? config.Name[..63] : config.Name,
            Labels = PodLabels(config, "sandbox"),
            ExposedPorts = exposed,
            HostConfig = new HostConfig
            {
                NetworkMode = _options.NetworkName,

                // Its containers join its IPC namespace, which Docker only lends from a "shareable" one.
                IpcMode = "shareable",
                PortBindings = bindings,

                // The containers of the pod share the sandbox's network and so its resolv.conf; on a
                // network of its own Docker's resolver answers in the container and forwards to these.
                DNS = config.Dns?.Servers.ToList(),
                DNSSearch = config.Dns?.Searches.ToList(),
                DNSOptions = config.Dns?.Options.ToList(),
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            },
        };
        var what = $"sandbox of pod {config.Namespace}/{config.Name}";
        var created = await CallAsync("container create", cancellationToken, ct => _client.Containers.CreateContainerAsync(parameters, ct), what).ConfigureAwait(false);
        try
        {
            await CallAsync("container start", cancellationToken, ct => _client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct), what).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // A sandbox that cannot start (a taken host port) is of no use: the next sync makes a new one.
            await CallAsync("container remove", cancellationToken, ct => _client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, ct), what, ignoreNotFound: true).ConfigureAwait(false);
            throw;
        }

        var inspected = await CallAsync("container inspect", cancellationToken, ct => _client.Containers.InspectContainerAsync(created.ID, ct), what).ConfigureAwait(false);
        var sandbox = ToSandbox(inspected.ID, inspected.Config.Labels, inspected.State.Running, IpOf(inspected.NetworkSettings?.Networks));
        LogSandboxRuns(sandbox.Id, config.Namespace, config.Name, sandbox.Ip);
        return sandbox;
    }

    /// <inheritdoc />
    /// <remarks>The agent has stopped the containers with their grace periods already: what still runs is killed.</remarks>
    public async Task StopPodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        foreach (var container in await ListAsync(Labels.SandboxId, sandboxId, cancellationToken).ConfigureAwait(false))
        {
            if (container.State is "running" or "paused" or "restarting")
            {
                await StopContainerAsync(container.ID, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            }
        }

        await StopContainerAsync(sandboxId, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task RemovePodSandboxAsync(string sandboxId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sandboxId);
        foreach (var container in await ListAsync(Labels.SandboxId, sandboxId, cancellationToken).ConfigureAwait(false))
        {
            await RemoveContainerAsync(container.ID, cancellationToken).ConfigureAwait(false);
        }

        await RemoveContainerAsync(sandboxId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<PodSandbox>> ListPodSandboxesAsync(CancellationToken cancellationToken) =>
        ListSandboxesAsync(null, cancellationToken);

    private async Task<NetworkResponse?> FindNetworkAsync(CancellationToken cancellationToken) =>
        await CallAsync("network inspect", cancellationToken, ct => _client.Networks.InspectNetworkAsync(_options.NetworkName, ct), _options.NetworkName, ignoreNotFound: true).ConfigureAwait(false);

    private async Task<IReadOnlyList<PodSandbox>> ListSandboxesAsync(string? uid, CancellationToken cancellationToken)
    {
        var listed = uid is null
            ? await ListAsync(Labels.Kind, "sandbox", cancellationToken).ConfigureAwait(false)
            : (await ListAsync(Labels.PodUid, uid, cancellationToken).ConfigureAwait(false)).Where(c => Label(c.Labels, Labels.Kind) == "sandbox").ToList();

        // The list carries each container's networks: one call gives every sandbox's IP.
        return listed.Select(c => ToSandbox(c.ID, c.Labels, c.State == "running", IpOf(c.NetworkSettings?.Networks))).ToList();
    }

    // The subnet's first address, as CNI's bridge gives it to the bridge.
    private static string Gateway(IPNetwork subnet)
    {
        var bytes = subnet.BaseAddress.GetAddressBytes();
        for (var i = bytes.Length - 1; i >= 0 && ++bytes[i] == 0; i--)
        {
            // Carry into the next byte.
        }

        return new IPAddress(bytes).ToString();
    }

    private string IpOf(IDictionary<string, EndpointSettings>? networks) =>
        networks is not null && networks.TryGetValue(_options.NetworkName, out var endpoint) ? endpoint.IPAddress ?? "" : "";

    private static PodSandbox ToSandbox(string id, IDictionary<string, string> labels, bool running, string ip) =>
        new(id, ToConfig(labels), running ? ip : "", running);

    private static PodSandboxConfig ToConfig(IDictionary<string, string>? labels) =>
        new(Label(labels, Labels.PodNamespace) ?? "", Label(labels, Labels.PodName) ?? "", Label(labels, Labels.PodUid) ?? "");

    private static Dictionary<string, string> PodLabels(PodSandboxConfig pod, string kind) => new(StringComparer.Ordinal)
    {
        [Labels.Kind] = kind,
        [Labels.PodNamespace] = pod.Namespace,
        [Labels.PodName] = pod.Name,
        [Labels.PodUid] = pod.Uid,
    };
}
