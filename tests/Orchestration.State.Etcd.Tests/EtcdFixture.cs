using Orchestration.Testing.Daemons;

namespace Orchestration.State.Etcd.Tests;

/// <summary>One real etcd for the test class, started from the Debian package on loopback.</summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    public EtcdServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await EtcdServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
