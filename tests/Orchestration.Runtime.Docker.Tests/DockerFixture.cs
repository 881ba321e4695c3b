using Microsoft.Extensions.Options;
using Orchestration.Testing.Daemons;

namespace Orchestration.Runtime.Docker.Tests;

/// <summary>
/// One dockerd for the collection, started as a node would start it: own data directory, own
/// network namespace, the local images loaded. Needs root and Debian's docker.io; when they are
/// missing the tests fail with the reason, they never skip.
/// </summary>
public sealed class DockerFixture : IAsyncLifetime
{
    private DockerHost? _host;
    private DockerRuntime? _runtime;

    /// <summary>The running dockerd.</summary>
    public DockerHost Host => _host ?? throw new InvalidOperationException("dockerd is not started");

    /// <summary>A client of it.</summary>
    public DockerRuntime Runtime => _runtime ?? throw new InvalidOperationException("dockerd is not started");

    public async Task InitializeAsync()
    {
        _host = await StartHostAsync();
        _runtime = new DockerRuntime(Options.Create(_host.RuntimeOptions));
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

    /// <summary>Starts a dockerd in a fresh temporary directory, deleted when it is disposed.</summary>
    public static async Task<DockerHost> StartHostAsync() => await DockerHost.StartAsync(Options.Create(await HostOptionsAsync()));

    /// <summary>Options of a dockerd in a fresh temporary directory, deleted when its host is disposed, with the local images.</summary>
    public static async Task<DockerHostOptions> HostOptionsAsync()
    {
        var options = new DockerHostOptions
        {
            DataDirectory = Directory.CreateTempSubdirectory("orch-dkr-").FullName,
            DeleteDataOnDispose = true,
        };
        options.ImageArchives.Add(await ImageArchive.PathAsync());
        return options;
    }
}

/// <summary>The Docker tests share one dockerd and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class DockerCollection : ICollectionFixture<DockerFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "docker";
}
