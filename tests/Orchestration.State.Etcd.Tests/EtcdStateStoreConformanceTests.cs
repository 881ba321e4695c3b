using Orchestration.TestKit.Conformance;

namespace Orchestration.State.Etcd.Tests;

/// <summary>The etcd store runs the whole state store contract against a real etcd 3.4.</summary>
[Trait("Category", "Integration")]
public sealed class EtcdStateStoreConformanceTests(EtcdFixture etcd) : StateStoreConformanceTests, IClassFixture<EtcdFixture>
{
    protected override bool UsesFakeClock => false;

    protected override Task<IStateStore> OpenStoreAsync(StateStoreOptions options) =>
        Task.FromResult<IStateStore>(new EtcdStateStore(new EtcdStateStoreOptions
        {
            Endpoints = [etcd.Server.ClientUrl],
            MaxKeyBytes = options.MaxKeyBytes,
            MaxValueBytes = options.MaxValueBytes,
            MaxWatchLag = options.MaxWatchLag,
        }));
}
