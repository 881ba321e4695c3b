using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Orchestration.Hosting;
using Orchestration.NodeAgent.Server.Hosting;
using Orchestration.Runtime.Containerd.Hosting;
using Orchestration.Runtime.Docker.Hosting;

namespace Orchestration.Cli;

/// <summary>
/// <c>orch agent</c>: a worker that joins a running cluster through a kubeconfig. By default its
/// node runs real containers in a containerd of its own, as <c>orch up</c>'s node does; Docker and
/// simulated nodes are the other choices.
/// </summary>
internal static class AgentCommand
{
    public static Command Create()
    {
        var kubeconfig = new Option<string>("--kubeconfig") { Description = "The kubeconfig of the cluster to join.", Required = true };
        var nodeName = new Option<string>("--node-name") { Description = "The node's name (with --runtime simulated and --nodes N > 1, a prefix: NAME-0, NAME-1, ...).", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var runtime = new Option<string>("--runtime") { Description = "The node runtime: containerd (real containers in a containerd of the worker's own; needs root), docker (the same over the Docker Engine API) or simulated (node agents without containers).", DefaultValueFactory = _ => "containerd" };
        runtime.AcceptOnlyFromAmong("containerd", "docker", "simulated");
        var dataDir = new Option<string?>("--data-dir") { Description = "Where a containerd or docker node keeps its daemon, images and pod volumes (default ~/.orch-agent/<node-name>)." };
        var containerdSocket = new Option<string?>("--containerd-socket") { Description = "With --runtime containerd: use this containerd instead of starting one under the data directory." };
        var dockerSocket = new Option<string?>("--docker-socket") { Description = "With --runtime docker: use this dockerd instead of starting one under the data directory." };
        var imageArchive = new Option<string?>("--image-archive") { Description = "With --runtime containerd or docker: the image tarball to import (default: artifacts/images/busybox-oci.tar of the checkout, from scripts/build-images.sh)." };
        var nodes = new Option<int>("--nodes") { Description = "How many simulated nodes this worker runs (with --runtime simulated).", DefaultValueFactory = _ => 1 };
        var lease = Durations.Option("--node-lease-duration", "How long a node's Lease holds (renewed every quarter of it).", TimeSpan.FromSeconds(40));
        var proxyMode = UpCommand.ProxyModeOption();
        var dnsUpstream = UpCommand.DnsUpstreamOption();
        var clusterCidr = new Option<string>("--cluster-cidr") { Description = "The cluster's pod network: traffic to cluster IPs from outside it is masqueraded.", DefaultValueFactory = _ => "10.244.0.0/16" };
        var command = new Command("agent", "Join a cluster as a worker: run a node agent against its API server.") { kubeconfig, nodeName, runtime, dataDir, containerdSocket, dockerSocket, imageArchive, nodes, lease, proxyMode, clusterCidr, dnsUpstream };
        command.Validators.Add(result =>
        {
            // Options of one runtime given with another would be ignored silently: say so instead.
            var kind = result.GetValue(runtime);
            if (kind != "simulated" && result.GetResult(nodes) is { Implicit: false })
            {
                result.AddError("--nodes is for --runtime simulated: a containerd or docker worker runs one node.");
            }

            if (kind != "containerd" && result.GetResult(containerdSocket) is { Implicit: false })
            {
                result.AddError("--containerd-socket is for --runtime containerd.");
            }

            if (kind != "docker" && result.GetResult(dockerSocket) is { Implicit: false })
            {
                result.AddError("--docker-socket is for --runtime docker.");
            }

            if (kind == "simulated" && (result.GetResult(imageArchive) is { Implicit: false } || result.GetResult(dataDir) is { Implicit: false }))
            {
                result.AddError("--image-archive and --data-dir are for --runtime containerd or docker: simulated nodes run no containers.");
            }
        });
        command.SetAction((parse, cancellationToken) =>
        {
            var name = parse.GetValue(nodeName)!;
            var dataDirectory = Path.GetFullPath(parse.GetValue(dataDir) ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".orch-agent", name));
            var kind = parse.GetValue(runtime)!;
            return RunAsync(
                Path.GetFullPath(parse.GetValue(kubeconfig)!),
                name,
                kind,
                dataDirectory,
                kind == "docker" ? parse.GetValue(dockerSocket) : parse.GetValue(containerdSocket),
                parse.GetValue(imageArchive) ?? LocalImages.DefaultArchive(),
                Math.Max(1, parse.GetValue(nodes)),
                parse.GetValue(lease),
                parse.GetValue(proxyMode),
                parse.GetValue(clusterCidr)!,
                parse.GetValue(dnsUpstream),
                cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(string kubeconfig, string nodeName, string runtime, string dataDirectory, string? socket, string? imageArchive, int simulatedNodes, TimeSpan leaseDuration, string? proxyMode, string clusterCidr, string? dnsUpstream, CancellationToken cancellationToken)
    {
        if (!File.Exists(kubeconfig))
        {
            await Console.Error.WriteLineAsync($"orch: no kubeconfig at {kubeconfig}").ConfigureAwait(false);
            return 2;
        }

        if (!UpCommand.ValidDnsUpstream(dnsUpstream))
        {
            await Console.Error.WriteLineAsync($"orch: --dns-upstream \"{dnsUpstream}\" is not a list of IP[:PORT] addresses separated by commas, nor none").ConfigureAwait(false);
            return 2;
        }

        var builder = Host.CreateApplicationBuilder();
        OrchLogging.Configure(builder.Logging);
        var worker = builder.Services.AddOrchestrationWorker(o =>
            {
                if (runtime != "simulated")
                {
                    UpCommand.RealNodeAgent(o, nodeName, dataDirectory);
                }
                else
                {
                    o.NodeName = nodeName;
                }

                o.LeaseDuration = leaseDuration;
                o.RenewInterval = leaseDuration / 4;
            })
            .UseKubeconfig(kubeconfig);
        switch (runtime)
        {
            case "containerd":
                worker.UseContainerdRuntime(o => UpCommand.RealNodeDaemon(o, dataDirectory, socket, imageArchive)).UseNodeNetworking(proxyMode, clusterCidr, dnsUpstream, socket, ApiServers(kubeconfig)).AddNodeAgentServer();
                break;
            case "docker":
                worker.UseDockerRuntime(o => UpCommand.RealNodeDaemon(o, dataDirectory, socket, imageArchive)).UseNodeNetworking(proxyMode, clusterCidr, dnsUpstream, socket, ApiServers(kubeconfig)).AddNodeAgentServer();
                break;
            default:
                worker.UseSimulatedNodes(simulatedNodes);
                break;
        }

        using var host = builder.Build();
        var started = await UpCommand.StartAsync(host, cancellationToken).ConfigureAwait(false);
        if (started != 0)
        {
            return started;
        }

        Console.WriteLine(runtime == "simulated"
            ? $"orch: worker {nodeName} ({simulatedNodes} simulated node(s)) joined the cluster of {kubeconfig}"
            : $"orch: worker {nodeName} ({runtime}) joined the cluster of {kubeconfig}");
        await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine("orch: worker stopped");
        return 0;
    }

    /// <summary>The API servers the worker's kubeconfig names, which its node relays its pods' connections to.</summary>
    private static IEnumerable<Uri> ApiServers(string kubeconfig) =>
        Orchestration.Client.RemoteClusterClientOptions.FromKubeconfig(kubeconfig).Servers.Select(server => new Uri(server));
}
