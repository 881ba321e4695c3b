using System.Diagnostics;
using Microsoft.Extensions.Options;
using Orchestration.Testing.Daemons;

namespace Orchestration.Runtime.Containerd.Tests;

/// <summary>
/// One containerd for the collection, started as a node would start it: own data directory, own
/// network namespace, the local images imported. Needs root and the Debian packages; when they are
/// missing the tests fail with the reason, they never skip.
/// </summary>
public sealed class ContainerdFixture : IAsyncLifetime
{
    private ContainerdHost? _host;
    private ContainerdRuntime? _runtime;

    /// <summary>The running containerd.</summary>
    public ContainerdHost Host => _host ?? throw new InvalidOperationException("containerd is not started");

    /// <summary>A client of it.</summary>
    public ContainerdRuntime Runtime => _runtime ?? throw new InvalidOperationException("containerd is not started");

    /// <summary>How long the start took (namespace, containerd answering, image import).</summary>
    public TimeSpan StartTime { get; private set; }

    public async Task InitializeAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        _host = await StartHostAsync();
        StartTime = stopwatch.Elapsed;
        _runtime = new ContainerdRuntime(Options.Create(_host.RuntimeOptions));
        await _runtime.ConnectAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        _runtime?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    /// <summary>Starts a containerd in a fresh temporary directory, deleted when it is disposed.</summary>
    public static async Task<ContainerdHost> StartHostAsync() => await ContainerdHost.StartAsync(Options.Create(await HostOptionsAsync()));

    /// <summary>Options of a containerd in a fresh temporary directory, deleted when its host is disposed, with the local images.</summary>
    public static async Task<ContainerdHostOptions> HostOptionsAsync()
    {
        var options = new ContainerdHostOptions
        {
            DataDirectory = Directory.CreateTempSubdirectory("orch-ctd-").FullName,
            DeleteDataOnDispose = true,
        };
        options.ImageArchives.Add(await ImageArchive.PathAsync());
        return options;
    }
}

/// <summary>The containerd tests share one containerd and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class ContainerdCollection : ICollectionFixture<ContainerdFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "containerd";
}
