using Orchestration.TestKit.Conformance;

namespace Orchestration.Runtime.Docker.Tests;

/// <summary>Docker keeps the CRI rules the simulated runtime and containerd keep.</summary>
[Trait("Category", "Integration")]
[Collection(DockerCollection.Name)]
public sealed class DockerRuntimeConformanceTests(DockerFixture docker) : NodeRuntimeConformanceTests
{
    protected override INodeRuntime Runtime => docker.Runtime;
}
