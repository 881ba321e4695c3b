using Orchestration.TestKit.Conformance;

namespace Orchestration.Runtime.Containerd.Tests;

/// <summary>containerd keeps the CRI rules the simulated runtime keeps.</summary>
[Trait("Category", "Integration")]
[Collection(ContainerdCollection.Name)]
public sealed class ContainerdRuntimeConformanceTests(ContainerdFixture containerd) : NodeRuntimeConformanceTests
{
    protected override INodeRuntime Runtime => containerd.Runtime;
}
