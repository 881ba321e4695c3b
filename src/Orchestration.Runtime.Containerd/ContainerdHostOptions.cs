namespace Orchestration.Runtime.Containerd;

/// <summary>Where <see cref="ContainerdHost"/> keeps its containerd, and what it loads into it.</summary>
public sealed class ContainerdHostOptions
{
    /// <summary>
    /// The directory that holds everything: config, socket, root, state, CNI config and IPAM data,
    /// pod logs. Required; never a system default, so the node's own containerd is untouched.
    /// </summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>
    /// The network namespace containerd and its pods run in, created at start and deleted at dispose;
    /// null picks a fresh name. A host that adopts a running containerd takes the namespace recorded
    /// with it in the data directory instead.
    /// </summary>
    public string? NetworkNamespace { get; set; }

    /// <summary>OCI image tarballs to import (as <c>scripts/build-images.sh</c> builds them); there is no registry to pull from.</summary>
    public IList<string> ImageArchives { get; } = [];

    /// <summary>The image of pod sandboxes: its process must keep running (see MACHINE-NOTES.md).</summary>
    public string SandboxImage { get; set; } = "orchestration.local/sandbox:1";

    /// <summary>The bridge the pods of this node hang off, inside the namespace.</summary>
    public string BridgeName { get; set; } = "orch0";

    /// <summary>Where the CNI plugins (bridge, host-local, portmap) are.</summary>
    public string CniBinDirectory { get; set; } = "/usr/lib/cni";

    /// <summary>The containerd binary.</summary>
    public string ContainerdPath { get; set; } = "/usr/bin/containerd";

    /// <summary>The ctr binary, which imports the image tarballs.</summary>
    public string CtrPath { get; set; } = "/usr/bin/ctr";

    /// <summary>How long containerd may take to answer on its socket.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long containerd may take to exit after SIGTERM before it is killed.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Whether disposing also stops and removes every pod sandbox containerd holds through CRI (so their
    /// network is torn down by CNI); shims and containers that still outlive containerd are killed either way.
    /// </summary>
    public bool RemovePodsOnDispose { get; set; } = true;

    /// <summary>Whether disposing deletes <see cref="DataDirectory"/> (tests; a node keeps it, with the imported images).</summary>
    public bool DeleteDataOnDispose { get; set; }
}
