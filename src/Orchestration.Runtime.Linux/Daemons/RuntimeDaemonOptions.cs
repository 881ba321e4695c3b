namespace Orchestration.Runtime.Linux.Daemons;

/// <summary>How a worker's runtime daemon (containerd, dockerd) is run: its own under a data directory, or one already running.</summary>
public class RuntimeDaemonOptions
{
    /// <summary>Where the daemon keeps its root, state, socket and log (required unless <see cref="SocketPath"/> is given).</summary>
    public string DataDirectory { get; set; } = "";

    /// <summary>The socket of a daemon that is running already, to use instead of starting one.</summary>
    public string? SocketPath { get; set; }

    /// <summary>With <see cref="SocketPath"/>: the network namespace that daemon runs its pods in (probes and port-forward enter it); null when it is this process's own.</summary>
    public string? NetworkNamespacePath { get; set; }

    /// <summary>
    /// Image tarballs (OCI layout) to import into a started daemon: no registry is reachable. When
    /// none is given, the node builds its busybox and sandbox images from <see cref="BusyboxPath"/>
    /// into <c>images/busybox-oci.tar</c> under <see cref="DataDirectory"/>.
    /// </summary>
    public IList<string> ImageArchives { get; } = [];

    /// <summary>The busybox-static binary the node's own images are built from when no tarball is given; null builds none.</summary>
    public string? BusyboxPath { get; set; } = Images.LocalImageArchive.DefaultBusybox;

    /// <summary>How often a daemon of the worker's own is checked and started again when it has died.</summary>
    public TimeSpan SupervisionInterval { get; set; } = TimeSpan.FromSeconds(1);
}
