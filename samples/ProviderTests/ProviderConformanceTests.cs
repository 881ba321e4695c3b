using Orchestration.Runtime;
using Orchestration.State;
using Orchestration.TestKit.Conformance;

namespace ProviderTests;

// A provider of your own goes where these name the built-in ones: each kit's tests then run against it.

/// <summary>A state store keeps the contract: here the in-memory store of Orchestration.Core.</summary>
public sealed class StoreConformanceTests : StateStoreConformanceTests
{
    protected override Task<IStateStore> OpenStoreAsync(StateStoreOptions options) =>
        Task.FromResult<IStateStore>(new InMemoryStateStore(options, Clock));
}

/// <summary>A node runtime keeps the CRI rules: here the simulated runtime of Orchestration.Core.</summary>
public sealed class RuntimeConformanceTests : NodeRuntimeConformanceTests
{
    private readonly SimulatedRuntime _runtime = new();

    protected override INodeRuntime Runtime => _runtime;
}
