using Orchestration.Runtime;

namespace Orchestration.Core.Tests.Runtime;

[Trait("Category", "Unit")]
public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io/library/busybox:latest")]
    [InlineData("busybox:latest", "docker.io/library/busybox:latest")]
    [InlineData("docker.io/library/busybox:latest", "docker.io/library/busybox:latest")]
    [InlineData("docker.io/busybox", "docker.io/library/busybox:latest")]
    [InlineData("index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36")]
    [InlineData("bitnami/nginx", "docker.io/bitnami/nginx:latest")]
    [InlineData("localhost/app", "localhost/app:latest")]
    [InlineData("localhost:5000/app:v1", "localhost:5000/app:v1")]
    [InlineData("orchestration.local/sandbox:1", "orchestration.local/sandbox:1")]
    [InlineData("registry.k8s.io/pause", "registry.k8s.io/pause:latest")]
    [InlineData("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc")]
    public void Names_are_completed_as_Docker_completes_them(string image, string expected) =>
        ImageReference.Normalize(image).Should().Be(expected);
}
