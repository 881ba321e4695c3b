using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.Runtime.Containerd.Hosting;

/// <summary>How a worker's containerd node runs: a containerd of its own under <see cref="RuntimeDaemonOptions.DataDirectory"/>, or the one at <see cref="RuntimeDaemonOptions.SocketPath"/>.</summary>
public sealed class ContainerdNodeOptions : RuntimeDaemonOptions
{
    /// <summary>Further settings of a containerd of the worker's own (binaries, bridge, sandbox image, timeouts).</summary>
    public Action<ContainerdHostOptions>? ConfigureHost { get; set; }
}
