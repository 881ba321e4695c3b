using Microsoft.Extensions.Options;

namespace Orchestration.Runtime.Docker.Tests;

/// <summary>A dockerd host leaves nothing behind: no process, namespace, mount or directory of its own.</summary>
[Trait("Category", "Integration")]
[Collection(DockerCollection.Name)]
public sealed class DockerHostTests
{
    [Fact]
    public async Task Disposing_the_host_ends_dockerd_its_containers_namespace_and_mounts()
    {
        var host = await DockerFixture.StartHostAsync();
        string directory = host.DataDirectory, netns = host.NetworkNamespacePath;
        var dockerd = host.ProcessId;
        using var runtime = new DockerRuntime(Options.Create(host.RuntimeOptions));
        await runtime.UpdateRuntimeConfigAsync("10.244.9.0/24", CancellationToken.None);
        var sandbox = await runtime.RunPodSandboxAsync(new PodSandboxConfig("docker", "stops", Guid.NewGuid().ToString()) { PortMappings = [new PortMapping("TCP", 80, 18091)] }, CancellationToken.None);
        var id = await runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", ["sleep", "3600"], [], new Dictionary<string, string>()), CancellationToken.None);
        await runtime.StartContainerAsync(id, CancellationToken.None);
        dockerd.Should().NotBeNull();
        File.Exists(netns).Should().BeTrue();
        ProcessesNaming(directory).Should().NotBeEmpty("dockerd, its containerd and the shim run from the data directory");

        await host.DisposeAsync();

        ProcessesNaming(directory).Should().BeEmpty();
        File.Exists($"/proc/{dockerd}/stat").Should().BeFalse("dockerd exited");
        File.Exists(netns).Should().BeFalse();
        (await File.ReadAllLinesAsync("/proc/self/mountinfo")).Should().NotContain(line => line.Contains(directory, StringComparison.Ordinal));
        Directory.Exists(directory).Should().BeFalse();
        await runtime.Invoking(r => r.GetConditionsAsync(CancellationToken.None)).Should().ThrowAsync<IOException>("a stopped dockerd makes the node not ready");
    }

    [Fact]
    public async Task A_host_on_the_directory_of_a_killed_one_stops_what_that_left_and_starts_clean()
    {
        var options = await DockerFixture.HostOptionsAsync();
        var first = await DockerHost.StartAsync(Options.Create(options));
        var firstNamespace = first.NetworkNamespacePath;
        var firstPid = first.ProcessId!.Value;

        // As if orch was killed: the lock goes with the process, dockerd and its namespace stay.
        var field = typeof(DockerHost).GetField("_lock", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        await ((FileStream)field.GetValue(first)!).DisposeAsync();

        await using var second = await DockerHost.StartAsync(Options.Create(options));

        File.Exists($"/proc/{firstPid}/stat").Should().BeFalse("the previous dockerd was stopped");
        File.Exists(firstNamespace).Should().BeFalse();
        second.ProcessId.Should().NotBeNull();
        using var runtime = new DockerRuntime(Options.Create(second.RuntimeOptions));
        (await runtime.ListImagesAsync(CancellationToken.None)).Should().Contain("orchestration.local/sandbox:1");
    }

    private static List<int> ProcessesNaming(string directory) =>
        Directory.EnumerateDirectories("/proc")
            .Select(Path.GetFileName)
            .Where(name => int.TryParse(name, out _))
            .Where(name =>
            {
                try
                {
                    return File.ReadAllText($"/proc/{name}/cmdline").Replace('\0', ' ').Contains(directory + "/", StringComparison.Ordinal);
                }
                catch (IOException)
                {
                    return false;
                }
            })
            .Select(name => int.Parse(name!))
            .ToList();
}
