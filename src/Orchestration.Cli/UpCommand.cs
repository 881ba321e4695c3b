using System.CommandLine;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Hosting;
using Orchestration.ApiServer.Security;
using Orchestration.Controllers.Nodes;
using Orchestration.Hosting;
using Orchestration.State;
using Orchestration.State.Sqlite;

namespace Orchestration.Cli;

/// <summary><c>orch up</c>: store, API server, controllers, scheduler and a node (by default one running real containers in containerd) in one process.</summary>
internal static class UpCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "Where the cluster keeps its state, certificates and kubeconfig.", DefaultValueFactory = _ => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".orch") };
        var port = new Option<int>("--port") { Description = "The API server's HTTPS port.", DefaultValueFactory = _ => 6443 };
        var bind = new Option<string>("--bind-address") { Description = "The address the API server listens on.", DefaultValueFactory = _ => "127.0.0.1" };
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "Where to write the admin kubeconfig (default <data-dir>/kubeconfig)." };
        var runtime = new Option<string>("--runtime") { Description = "The node runtime: containerd (one node of this machine running real containers; needs root), docker (the same over the Docker Engine API; needs root), simulated (node agents without containers) or none (API, controllers and scheduler only).", DefaultValueFactory = _ => "containerd" };
        runtime.AcceptOnlyFromAmong("none", "simulated", "containerd", "docker");
        var containerdSocket = new Option<string?>("--containerd-socket") { Description = "With --runtime containerd: use this containerd instead of starting one under the data directory." };
        var dockerSocket = new Option<string?>("--docker-socket") { Description = "With --runtime docker: use this dockerd instead of starting one under the data directory." };
        var imageArchive = new Option<string?>("--image-archive") { Description = "With --runtime containerd or docker: the image tarball to import (default: artifacts/images/busybox-oci.tar of the checkout, from scripts/build-images.sh)." };
        var nodes = new Option<int>("--nodes") { Description = "How many simulated nodes to run (with --runtime simulated).", DefaultValueFactory = _ => 1 };
        var insecure = new Option<bool>("--insecure-http") { Description = "Serve plain HTTP without authentication (local experiments only)." };
        var lease = Durations.Option("--node-lease-duration", "How long a simulated node's Lease holds (renewed every quarter of it).", TimeSpan.FromSeconds(40));
        var grace = Durations.Option("--node-monitor-grace-period", "How long a node may go without renewing its Lease before it is NotReady and tainted.", TimeSpan.FromSeconds(40));
        var clusterCidr = new Option<string>("--cluster-cidr") { Description = "The pod network; each node gets a block of it.", DefaultValueFactory = _ => "10.244.0.0/16" };
        var nodeMask = new Option<int>("--node-cidr-mask-size") { Description = "The prefix length of each node's block of the pod network (a /16 holds 256 nodes of /24).", DefaultValueFactory = _ => 24 };
        var command = new Command("up", "Start a whole cluster in this process.") { dataDir, port, bind, kubeconfig, runtime, nodes, insecure, lease, grace, clusterCidr, nodeMask, containerdSocket, dockerSocket, imageArchive };
        command.SetAction((parse, cancellationToken) => RunAsync(
            Path.GetFullPath(parse.GetValue(dataDir)!),
            parse.GetValue(port),
            parse.GetValue(bind)!,
            parse.GetValue(kubeconfig),
            parse.GetValue(insecure),
            parse.GetValue(runtime) == "simulated" ? Math.Max(0, parse.GetValue(nodes)) : 0,
            parse.GetValue(lease),
            parse.GetValue(grace),
            new NodeIpamOptions { ClusterCidr = parse.GetValue(clusterCidr)!, NodeCidrMaskSize = parse.GetValue(nodeMask) },
            parse.GetValue(runtime) == "containerd" ? new ContainerdChoice(parse.GetValue(containerdSocket), parse.GetValue(imageArchive) ?? LocalImages.DefaultArchive()) : null,
            parse.GetValue(runtime) == "docker" ? new DockerChoice(parse.GetValue(dockerSocket), parse.GetValue(imageArchive) ?? LocalImages.DefaultArchive()) : null,
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string dataDir, int port, string bindAddress, string? kubeconfigPath, bool insecure, int simulatedNodes, TimeSpan leaseDuration, TimeSpan gracePeriod, NodeIpamOptions ipam, ContainerdChoice? containerd, DockerChoice? docker, CancellationToken cancellationToken)
    {
        if (!IPAddress.TryParse(bindAddress, out var address))
        {
            await Console.Error.WriteLineAsync($"orch: --bind-address \"{bindAddress}\" is not an IP address").ConfigureAwait(false);
            return 2;
        }

        try
        {
            _ = NodeIpamController.Blocks(ipam).First();
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            await Console.Error.WriteLineAsync($"orch: --cluster-cidr {ipam.ClusterCidr} with --node-cidr-mask-size {ipam.NodeCidrMaskSize}: {ex.Message}").ConfigureAwait(false);
            return 2;
        }

        Directory.CreateDirectory(dataDir);
        var certificates = ClusterCertificates.LoadOrCreate(Path.Combine(dataDir, "pki"), TimeProvider.System);
        await using var app = ApiServerHost.Build(
            new ApiServerHostOptions { Address = address, Port = port, Certificates = insecure ? null : certificates },
            services =>
            {
                services.AddSingleton(TimeProvider.System);
                services.AddSingleton(new SqliteStateStoreOptions { DataDirectory = Path.Combine(dataDir, "state") });
                services.AddSingleton<IStateStore>(sp => new SqliteStateStore(
                    sp.GetRequiredService<SqliteStateStoreOptions>(),
                    sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<ILogger<SqliteStateStore>>()));
                services.AddSingleton(new ClusterBootstrapOptions(port));
                services.AddHostedService<ClusterBootstrap>();
                // Pods on nodes are stopped by their node agents before they go, as in Kubernetes.
                services.Configure<Orchestration.Resources.RegistryOptions>(o => o.GracefulPodDeletion = true);
                services.AddOrchestrationControllers();
                services.Configure<NodeIpamOptions>(o =>
                {
                    o.ClusterCidr = ipam.ClusterCidr;
                    o.NodeCidrMaskSize = ipam.NodeCidrMaskSize;
                });
                services.Configure<NodeLifecycleOptions>(o =>
                {
                    o.GracePeriod = gracePeriod;
                    o.CheckInterval = TimeSpan.FromTicks(Math.Min(o.CheckInterval.Ticks, Math.Max(TimeSpan.FromMilliseconds(500).Ticks, gracePeriod.Ticks / 4)));
                });
                services.AddOrchestrationScheduler();
                if (containerd is not null)
                {
                    services.AddSingleton(new RealNodeOptions(Environment.MachineName.ToLowerInvariant(), Path.Combine(dataDir, "containerd"), containerd.Socket, containerd.ImageArchive));
                    services.AddHostedService<ContainerdNode>();
                }

                if (docker is not null)
                {
                    services.AddSingleton(new RealNodeOptions(Environment.MachineName.ToLowerInvariant(), Path.Combine(dataDir, "docker"), docker.Socket, docker.ImageArchive));
                    services.AddHostedService<DockerNode>();
                }

                if (simulatedNodes > 0)
                {
                    services.AddSingleton(new SimulatedNodesOptions(simulatedNodes, "sim-node", leaseDuration));
                    services.AddHostedService<SimulatedNodes>();
                }
            });

        var scheme = insecure ? "http" : "https";
        var host = address.Equals(IPAddress.Any) ? "127.0.0.1" : address.ToString();
        var server = $"{scheme}://{(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{host}]" : host)}:{port}";
        kubeconfigPath = Path.GetFullPath(kubeconfigPath ?? Path.Combine(dataDir, "kubeconfig"));
        var (clientCert, clientKey) = certificates.LoadOrIssueClient("admin", "orchestration-admin", ["system:masters"], TimeProvider.System);
        Directory.CreateDirectory(Path.GetDirectoryName(kubeconfigPath)!);
        await File.WriteAllTextAsync(kubeconfigPath, Kubeconfig.Create("orchestration", server, certificates.Authority.ExportCertificatePem(), clientCert, clientKey), cancellationToken).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(kubeconfigPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NodeStartException ex)
        {
            await Console.Error.WriteLineAsync($"orch: {ex.Message}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"orch: {RealNodeHint} --runtime none runs the control plane alone.").ConfigureAwait(false);

            // The services that started before the node (controllers, scheduler) stop before their store closes.
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            if (app.Services.GetService<IStateStore>() is { } opened)
            {
                await opened.DisposeAsync().ConfigureAwait(false);
            }

            return 1;
        }

        Console.WriteLine($"orch: the API server is serving at {server}");
        Console.WriteLine($"orch: export KUBECONFIG={kubeconfigPath}; kubectl get namespaces");
        try
        {
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (app.Services.GetService<IStateStore>() is { } store)
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }
        }

        Console.WriteLine("orch: stopped");
        return 0;
    }

    /// <summary>What a real node needs, and the runtime that needs nothing, for the message of a node that could not start.</summary>
    internal const string RealNodeHint = "--runtime containerd (the default) runs real containers: it needs root and containerd (scripts/install-deps.sh); --runtime docker needs root and docker.io. --runtime simulated runs nodes without containers.";

    /// <summary>How the containerd node is run.</summary>
    private sealed record ContainerdChoice(string? Socket, string? ImageArchive);

    /// <summary>How the docker node is run.</summary>
    private sealed record DockerChoice(string? Socket, string? ImageArchive);
}
