using Orchestration.Runtime;
using Orchestration.TestKit.Conformance;

namespace Orchestration.Core.Tests.Runtime;

/// <summary>The simulated runtime keeps the same CRI rules as containerd.</summary>
[Trait("Category", "Unit")]
public sealed class SimulatedRuntimeConformanceTests : NodeRuntimeConformanceTests
{
    private readonly SimulatedRuntime _runtime = new();

    protected override INodeRuntime Runtime => _runtime;
}
