namespace Orchestration.NodeAgent;

/// <summary>Who a node agent is and what its node offers.</summary>
public sealed class NodeAgentOptions
{
    /// <summary>The node's name.</summary>
    public string NodeName { get; set; } = Environment.MachineName.ToLowerInvariant();

    /// <summary>CPU the node offers (a quantity).</summary>
    public string Cpu { get; set; } = "4";

    /// <summary>Memory the node offers (a quantity).</summary>
    public string Memory { get; set; } = "16Gi";

    /// <summary>How many pods the node takes.</summary>
    public int MaxPods { get; set; } = 110;

    /// <summary>Extra labels of the node.</summary>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>();

    /// <summary>How long the node's Lease holds without renewal (kubelet's default 40 s).</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(40);

    /// <summary>How often the Lease is renewed (a quarter of its duration, as kubelet does).</summary>
    public TimeSpan RenewInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many pods are worked on at once.</summary>
    public int Workers { get; set; } = 4;

    /// <summary>
    /// How often the agent relists its runtime (kubelet's PLEG relist, 1 s): a container that exits is
    /// noticed within this long, and probes run at this granularity.
    /// </summary>
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the agent asks its runtime whether it is up (kubelet's 5 s runtime status check); while
    /// the node is not ready it asks every <see cref="ResyncInterval"/>, so it is Ready again soon after
    /// the runtime returns. A check that takes longer than this counts as the runtime being down.
    /// </summary>
    public TimeSpan RuntimeStatusInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the relist may go without succeeding before the node is not ready with kubelet's
    /// <c>PLEG is not healthy</c> (kubelet's 3 min).
    /// </summary>
    public TimeSpan RelistThreshold { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>The first crash-loop back-off before a failed container restarts (kubelet's 10 s); it doubles on each crash.</summary>
    public TimeSpan BackOffInitial { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest crash-loop back-off (kubelet's 5 min); a container that ran twice this long starts over from <see cref="BackOffInitial"/>.</summary>
    public TimeSpan BackOffMax { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Whether the agent records Events about its pods (Pulled, Created, Started, Killing, BackOff, Unhealthy).</summary>
    public bool RecordEvents { get; set; } = true;

    /// <summary>How many events may wait to be written; more are dropped rather than flooding the API.</summary>
    public int EventQueueCapacity { get; set; } = 1000;

    /// <summary>
    /// The node's InternalIP, where the API server reaches the agent's server (see
    /// <c>Orchestration.NodeAgent.Server.NodeAgentServer</c>); none is reported when null. It is where the server
    /// listens, which may be loopback, unlike <see cref="NodeIp"/>, the address containers are told.
    /// </summary>
    public string? InternalIP { get; set; }

    /// <summary>The port of the agent's server (kubelet's 10250), reported in the Node's <c>status.daemonEndpoints</c>.</summary>
    public int? ServerPort { get; set; }

    /// <summary>
    /// Where the agent keeps pods' files on the node (kubelet's <c>--root-dir</c>, /var/lib/kubelet):
    /// volumes under <c>pods/&lt;uid&gt;/volumes</c>. Null: <c>orchestration-node-agent/&lt;NodeName&gt;</c>
    /// under the temporary directory. The runtime must see the same paths (containerd in the same
    /// mount namespace does).
    /// </summary>
    public string? RootDirectory { get; set; }

    /// <summary>The node's IP (kubelet's <c>--node-ip</c>), which <c>status.hostIP</c> gives containers' env; null: the first IPv4 address of an interface that is up and not loopback.</summary>
    public string? NodeIp { get; set; }

    /// <summary>
    /// The operating system the Node reports (<c>status.nodeInfo.osImage</c>, kubectl's OS-IMAGE
    /// column). Null: <c>PRETTY_NAME</c> of the machine's /etc/os-release, as kubelet reports it.
    /// Simulated nodes set their own.
    /// </summary>
    public string? OsImage { get; set; }

    /// <summary>
    /// The cluster DNS addresses (kubelet's <c>--cluster-dns</c>) that ClusterFirst pods are told;
    /// empty: such pods get the node's own resolv.conf, as kubelet falls back to dnsPolicy Default.
    /// </summary>
    public IList<string> ClusterDns { get; } = [];

    /// <summary>The cluster's DNS domain (kubelet's <c>--cluster-domain</c>), the root of the search list ClusterFirst pods get.</summary>
    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>The node's resolv.conf (kubelet's <c>--resolv-conf</c>): its search domains follow the cluster's in ClusterFirst pods; empty reads none.</summary>
    public string ResolvConf { get; set; } = "/etc/resolv.conf";

    /// <summary>The directory holding a directory per pod (its volumes).</summary>
    internal string PodsDirectory =>
        Path.Combine(RootDirectory ?? Path.Combine(Path.GetTempPath(), "orchestration-node-agent", NodeName), "pods");
}
