using Orchestration.State;
using Orchestration.TestKit.Conformance;

namespace Orchestration.Core.Tests.State;

/// <summary>The in-memory store runs the whole state store contract.</summary>
[Trait("Category", "Unit")]
public sealed class InMemoryStateStoreConformanceTests : StateStoreConformanceTests
{
    protected override Task<IStateStore> OpenStoreAsync(StateStoreOptions options) =>
        Task.FromResult<IStateStore>(new InMemoryStateStore(options, Clock));
}
