using Orchestration.Runtime.Linux.Daemons;

namespace Orchestration.Runtime.Docker.Hosting;

/// <summary>How a worker's Docker node runs: a dockerd of its own under <see cref="RuntimeDaemonOptions.DataDirectory"/>, or the one at <see cref="RuntimeDaemonOptions.SocketPath"/>.</summary>
public sealed class DockerNodeOptions : RuntimeDaemonOptions
{
    /// <summary>Further settings of a dockerd of the worker's own (binary, default bridge, timeouts).</summary>
    public Action<DockerHostOptions>? ConfigureHost { get; set; }
}
