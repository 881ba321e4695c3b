using System.CommandLine;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestration.ApiServer.Hosting;
using Orchestration.Controllers.Nodes;
using Orchestration.Hosting;
using Orchestration.NodeAgent.Server.Hosting;
using Orchestration.Runtime.Containerd.Hosting;
using Orchestration.Runtime.Docker.Hosting;
using Orchestration.Runtime.Linux.Daemons;
using Orchestration.Runtime.Linux.Hosting;
using Orchestration.State.Sqlite.Hosting;

namespace Orchestration.Cli;

/// <summary>
/// <c>orch up</c>: a master and a worker in one host: store, API server, controllers, scheduler and
/// a node (by default one running real containers in containerd), composed with the public
/// builders exactly as a host app would.
/// </summary>
internal static class UpCommand
{
    /// <summary>What a real node needs, and the runtime that needs nothing, for the message of a node that could not start.</summary>
    internal const string RealNodeHint = "--runtime containerd (the default) runs real containers: it needs root and containerd (scripts/install-deps.sh); --runtime docker needs root and docker.io. --runtime simulated runs nodes without containers.";

    /// <summary>
    /// Pods synced at once on a real node. kubelet gives every pod its own worker; a real node waits
    /// mostly on its runtime and the API, so more than the library's default of 4 (sized for
    /// thousands of simulated agents in one process) lets a burst of pods start side by side.
    /// </summary>
    internal const int RealNodeWorkers = 16;

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
        var auditPolicy = new Option<string?>("--audit-policy-file") { Description = "An audit Policy file (audit.k8s.io/v1): which requests are audited, at which level (with --audit-log-path)." };
        var auditLog = new Option<string?>("--audit-log-path") { Description = "Where the audit log's JSON lines are appended (with --audit-policy-file)." };
        var tokenFile = new Option<string?>("--token-auth-file") { Description = "A static token file: token,user,uid[,\"group1,group2\"] per line." };
        var anonymous = new Option<bool>("--anonymous-auth") { Description = "Serve requests without credentials as system:anonymous (RBAC decides what they may do) instead of 401." };
        var encryption = new Option<string?>("--encryption-provider-config") { Description = "An EncryptionConfiguration file (apiserver.config.k8s.io/v1): which resources are encrypted at rest, with aesgcm, aescbc or identity providers." };
        var lease = Durations.Option("--node-lease-duration", "How long a simulated node's Lease holds (renewed every quarter of it).", TimeSpan.FromSeconds(40));
        var grace = Durations.Option("--node-monitor-grace-period", "How long a node may go without renewing its Lease before it is NotReady and tainted.", TimeSpan.FromSeconds(40));
        var clusterCidr = new Option<string>("--cluster-cidr") { Description = "The pod network; each node gets a block of it.", DefaultValueFactory = _ => "10.244.0.0/16" };
        var nodeMask = new Option<int>("--node-cidr-mask-size") { Description = "The prefix length of each node's block of the pod network (a /16 holds 256 nodes of /24).", DefaultValueFactory = _ => 24 };
        var proxyMode = ProxyModeOption();
        var dnsUpstream = DnsUpstreamOption();
        var command = new Command("up", "Start a whole cluster in this process.") { dataDir, port, bind, kubeconfig, runtime, nodes, insecure, lease, grace, clusterCidr, nodeMask, containerdSocket, dockerSocket, imageArchive, proxyMode, dnsUpstream, encryption, auditPolicy, auditLog, tokenFile, anonymous };
        command.SetAction((parse, cancellationToken) =>
        {
            var directory = Path.GetFullPath(parse.GetValue(dataDir)!);
            if (!IPAddress.TryParse(parse.GetValue(bind), out var address))
            {
                return Fail($"--bind-address \"{parse.GetValue(bind)}\" is not an IP address");
            }

            // The options are validated again when the host starts; here the message names the flags.
            var pods = new NodeIpamOptions { ClusterCidr = parse.GetValue(clusterCidr)!, NodeCidrMaskSize = parse.GetValue(nodeMask) };
            if (new NodeIpamOptionsValidator().Validate(null, pods) is { Failed: true } invalid)
            {
                return Fail($"--cluster-cidr {pods.ClusterCidr} with --node-cidr-mask-size {pods.NodeCidrMaskSize}: {invalid.FailureMessage}");
            }

            var settings = new UpSettings(
                directory,
                address,
                parse.GetValue(port),
                Path.GetFullPath(parse.GetValue(kubeconfig) ?? Path.Combine(directory, "kubeconfig")),
                parse.GetValue(insecure),
                parse.GetValue(runtime)!,
                Math.Max(0, parse.GetValue(nodes)),
                parse.GetValue(lease),
                parse.GetValue(grace),
                parse.GetValue(clusterCidr)!,
                parse.GetValue(nodeMask),
                parse.GetValue(runtime) == "docker" ? parse.GetValue(dockerSocket) : parse.GetValue(containerdSocket),
                parse.GetValue(imageArchive) ?? LocalImages.DefaultArchive(),
                parse.GetValue(proxyMode),
                parse.GetValue(dnsUpstream),
                parse.GetValue(encryption) is { } encryptionFile ? Path.GetFullPath(encryptionFile) : null,
                parse.GetValue(auditPolicy) is { } policyFile ? Path.GetFullPath(policyFile) : null,
                parse.GetValue(auditLog) is { } logFile ? Path.GetFullPath(logFile) : null,
                parse.GetValue(tokenFile) is { } tokens ? Path.GetFullPath(tokens) : null,
                parse.GetValue(anonymous));
            if ((settings.AuditPolicyFile is null) != (settings.AuditLogPath is null))
            {
                return Fail("--audit-policy-file and --audit-log-path go together");
            }

            if (!ValidDnsUpstream(settings.DnsUpstream))
            {
                return Fail($"--dns-upstream \"{settings.DnsUpstream}\" is not a list of IP[:PORT] addresses separated by commas, nor none");
            }

            return RunAsync(settings, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(UpSettings settings, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(settings.DataDirectory);
        var builder = Host.CreateApplicationBuilder();
        OrchLogging.Configure(builder.Logging);

        var master = builder.Services.AddOrchestrationMaster();
        if (settings.EncryptionConfiguration is { } encryptionConfiguration)
        {
            master.UseEncryptionConfiguration(encryptionConfiguration);
        }

        master
            .UseSqliteStateStore(Path.Combine(settings.DataDirectory, "state"))
            .ConfigurePodNetwork(o =>
            {
                o.ClusterCidr = settings.ClusterCidr;
                o.NodeCidrMaskSize = settings.NodeCidrMaskSize;
            })
            .ConfigureNodeLifecycle(o =>
            {
                o.GracePeriod = settings.GracePeriod;
                o.CheckInterval = TimeSpan.FromTicks(Math.Min(o.CheckInterval.Ticks, Math.Max(TimeSpan.FromMilliseconds(500).Ticks, settings.GracePeriod.Ticks / 4)));
            })
            .AddApiServer(o =>
            {
                o.Address = settings.Address;
                o.Port = settings.Port;
                o.CertificateDirectory = Path.Combine(settings.DataDirectory, "pki");
                o.PlainHttp = settings.Insecure;
                o.AdminKubeconfigPath = settings.Kubeconfig;
                o.Api = api =>
                {
                    api.AuditPolicyFile = settings.AuditPolicyFile;
                    api.AuditLogPath = settings.AuditLogPath;
                    api.TokenAuthFile = settings.TokenAuthFile;
                    api.AnonymousAuth = settings.AnonymousAuth;
                };
            });

        var nodeName = Environment.MachineName.ToLowerInvariant();
        var nodeDirectory = Path.Combine(settings.DataDirectory, settings.Runtime);
        switch (settings.Runtime)
        {
            case "containerd":
                builder.Services.AddOrchestrationWorker(o => RealNodeAgent(o, nodeName, nodeDirectory))
                    .UseContainerdRuntime(o => RealNodeDaemon(o, nodeDirectory, settings.Socket, settings.ImageArchive))
                    .UseNodeNetworking(settings.ProxyMode, settings.ClusterCidr, settings.DnsUpstream, settings.Socket, settings.Port > 0 ? [LocalApiServer(settings)] : [])
                    .AddNodeAgentServer();
                break;
            case "docker":
                builder.Services.AddOrchestrationWorker(o => RealNodeAgent(o, nodeName, nodeDirectory))
                    .UseDockerRuntime(o => RealNodeDaemon(o, nodeDirectory, settings.Socket, settings.ImageArchive))
                    .UseNodeNetworking(settings.ProxyMode, settings.ClusterCidr, settings.DnsUpstream, settings.Socket, settings.Port > 0 ? [LocalApiServer(settings)] : [])
                    .AddNodeAgentServer();
                break;
            case "simulated" when settings.SimulatedNodes > 0:
                builder.Services.AddOrchestrationWorker(o =>
                    {
                        o.LeaseDuration = settings.LeaseDuration;
                        o.RenewInterval = settings.LeaseDuration / 4;
                    })
                    .UseSimulatedNodes(settings.SimulatedNodes, o =>
                    {
                        o.NamePrefix = "sim-node";
                        o.NumberSingle = true;
                    });
                break;
        }

        using var host = builder.Build();
        var started = await StartAsync(host, cancellationToken).ConfigureAwait(false);
        if (started != 0)
        {
            return started;
        }

        var api = host.Services.GetRequiredService<ApiServerService>();
        Console.WriteLine($"orch: the API server is serving at {api.ServerUrl}");
        Console.WriteLine($"orch: export KUBECONFIG={settings.Kubeconfig}; kubectl get namespaces");
        await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine("orch: stopped");
        return 0;
    }

    /// <summary>Starts a host, turning the failures a user can fix into a message and an exit code.</summary>
    internal static async Task<int> StartAsync(IHost host, CancellationToken cancellationToken)
    {
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        catch (NodeStartException ex)
        {
            await Console.Error.WriteLineAsync($"orch: {ex.Message}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"orch: {RealNodeHint} --runtime none runs the control plane alone.").ConfigureAwait(false);
            await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
            return 1;
        }
        catch (OptionsValidationException ex)
        {
            return await FailAsync(string.Join("; ", ex.Failures)).ConfigureAwait(false);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is OptionsValidationException))
        {
            return await FailAsync(string.Join("; ", ex.InnerExceptions.SelectMany(e => ((OptionsValidationException)e).Failures))).ConfigureAwait(false);
        }
    }

    /// <summary>What every real node's agent runs with.</summary>
    internal static void RealNodeAgent(Orchestration.NodeAgent.NodeAgentOptions options, string nodeName, string nodeDirectory)
    {
        options.NodeName = nodeName;
        options.Workers = RealNodeWorkers;
        options.RootDirectory = Path.Combine(nodeDirectory, "kubelet");

        // The kube-dns Service's address in the default service network (its tenth address).
        options.ClusterDns.Add("10.96.0.10");
    }

    /// <summary>A real node's daemon: its own under the node's directory, or the one at <paramref name="socket"/>.</summary>
    internal static void RealNodeDaemon(RuntimeDaemonOptions options, string nodeDirectory, string? socket, string? imageArchive)
    {
        options.DataDirectory = nodeDirectory;
        options.SocketPath = socket;
        if (imageArchive is not null)
        {
            options.ImageArchives.Add(imageArchive);
        }
    }

    internal static Task<int> Fail(string message) => FailAsync(message);

    /// <summary>The <c>--dns-upstream</c> option of a real node: where its cluster DNS forwards other names.</summary>
    internal static Option<string?> DnsUpstreamOption() => new("--dns-upstream")
    {
        Description = "Where the node's cluster DNS forwards names outside the cluster: IP[:PORT] addresses separated by commas, or none (default: the name servers of the machine's /etc/resolv.conf).",
    };

    /// <summary>
    /// The node's Services and DNS as the options say. A daemon given by socket runs its pods in a
    /// network orch does not know: orch then programs no proxy and runs no DNS there (it would
    /// otherwise change this machine's own network), unless <c>--proxy-mode</c> says otherwise.
    /// </summary>
    internal static IWorkerBuilder UseNodeNetworking(this IWorkerBuilder worker, string? proxyMode, string clusterCidr, string? dnsUpstream, string? socket, IEnumerable<Uri> apiServers) =>
        socket is not null
            ? worker.UseProxyMode(proxyMode ?? "none", clusterCidr).WithoutClusterDns()
            : worker.UseProxyMode(proxyMode ?? "nftables", clusterCidr).UseDnsUpstream(dnsUpstream)!.UseNodeApiRelay(o =>
            {
                foreach (var server in apiServers)
                {
                    o.Upstreams.Add(new DnsEndPoint(server.Host, server.Port));
                }
            });

    /// <summary>The URL the node's pods reach this process's API server at, through the node's relay: a wildcard address is reached on loopback.</summary>
    private static Uri LocalApiServer(UpSettings settings) =>
        new UriBuilder(settings.Insecure ? "http" : "https", IPAddress.Any.Equals(settings.Address) ? "127.0.0.1" : settings.Address.ToString(), settings.Port).Uri;

    /// <summary>Whether a <c>--dns-upstream</c> value can be used.</summary>
    internal static bool ValidDnsUpstream(string? upstream) =>
        string.IsNullOrEmpty(upstream) || upstream == "none" || upstream.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).All(t => IPEndPoint.TryParse(t, out _));

    /// <summary>Points the node's cluster DNS at the upstreams <c>--dns-upstream</c> names; null when the value is not valid.</summary>
    internal static IWorkerBuilder? UseDnsUpstream(this IWorkerBuilder worker, string? upstream)
    {
        if (string.IsNullOrEmpty(upstream))
        {
            return worker;
        }

        if (upstream == "none")
        {
            return worker.UseClusterDns(node: o => o.ResolvConf = null);
        }

        var endPoints = new List<IPEndPoint>();
        foreach (var text in upstream.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IPEndPoint.TryParse(text, out var endPoint))
            {
                return null;
            }

            endPoints.Add(endPoint.Port == 0 ? new IPEndPoint(endPoint.Address, 53) : endPoint);
        }

        return worker.UseClusterDns(o =>
        {
            foreach (var endPoint in endPoints)
            {
                o.Upstreams.Add(endPoint);
            }
        });
    }

    /// <summary>The <c>--proxy-mode</c> option of a real node: how its Services are served.</summary>
    internal static Option<string?> ProxyModeOption()
    {
        var option = new Option<string?>("--proxy-mode") { Description = "How the node serves Services: nftables (the default; needs nftables), userspace (a TCP/UDP proxy in orch, for machines without nftables) or none (the default with --containerd-socket or --docker-socket, whose network orch does not own)." };
        option.AcceptOnlyFromAmong("nftables", "userspace", "none");
        return option;
    }

    /// <summary>Chooses the node's network proxy as <c>--proxy-mode</c> says; traffic to cluster IPs from outside <paramref name="clusterCidr"/> is masqueraded.</summary>
    internal static IWorkerBuilder UseProxyMode(this IWorkerBuilder worker, string mode, string clusterCidr) => mode switch
    {
        "none" => worker.WithoutNetworkProxy(),
        "userspace" => worker.UseUserspaceProxy(),
        _ => worker.UseNftablesProxy(o => o.ClusterCidr = clusterCidr),
    };

    private static async Task<int> FailAsync(string message)
    {
        await Console.Error.WriteLineAsync($"orch: {message}").ConfigureAwait(false);
        return 2;
    }

    private sealed record UpSettings(
        string DataDirectory,
        IPAddress Address,
        int Port,
        string Kubeconfig,
        bool Insecure,
        string Runtime,
        int SimulatedNodes,
        TimeSpan LeaseDuration,
        TimeSpan GracePeriod,
        string ClusterCidr,
        int NodeCidrMaskSize,
        string? Socket,
        string? ImageArchive,
        string? ProxyMode,
        string? DnsUpstream,
        string? EncryptionConfiguration,
        string? AuditPolicyFile,
        string? AuditLogPath,
        string? TokenAuthFile,
        bool AnonymousAuth);
}
