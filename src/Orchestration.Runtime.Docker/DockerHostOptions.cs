namespace Orchestration.Runtime.Docker;

/// <summary>Where <see cref="DockerHost"/> keeps its dockerd, and what it loads into it.</summary>
public sealed class DockerHostOptions
{
    /// <summary>
    /// The directory that holds everything: dockerd's data root, exec root (with the containerd it
    /// manages), pidfile, socket and log. Required; never a system default, so the node's own Docker
    /// is untouched.
    /// </summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>The network namespace dockerd and its pods run in, created at start and deleted at dispose; null picks a fresh name.</summary>
    public string? NetworkNamespace { get; set; }

    /// <summary>Image tarballs to load (as <c>scripts/build-images.sh</c> builds them); there is no registry to pull from.</summary>
    public IList<string> ImageArchives { get; } = [];

    /// <summary>
    /// The address and prefix of dockerd's default bridge (<c>--bip</c>), inside the namespace. Pods
    /// do not use it (they join the pod network), but dockerd always makes it.
    /// </summary>
    public string DefaultBridgeAddress { get; set; } = "10.245.0.1/24";

    /// <summary>The dockerd binary (Debian's docker.io).</summary>
    public string DockerdPath { get; set; } = "/usr/sbin/dockerd";

    /// <summary>How long dockerd may take to answer on its socket.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long dockerd may take to exit after SIGTERM (it stops its containers first) before it is killed.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Whether disposing removes every pod's containers through the API before dockerd stops.</summary>
    public bool RemovePodsOnDispose { get; set; } = true;

    /// <summary>Whether disposing deletes <see cref="DataDirectory"/> (tests; a node keeps it, with the loaded images).</summary>
    public bool DeleteDataOnDispose { get; set; }
}
