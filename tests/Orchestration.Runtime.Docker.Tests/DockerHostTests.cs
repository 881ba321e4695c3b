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
    public async Task A_host_on_the_directory_of_a_detached_one_adopts_its_dockerd_with_the_running_pod()
    {
        var options = await DockerFixture.HostOptionsAsync();
        var first = await DockerHost.StartAsync(Options.Create(options));
        var pid = first.ProcessId;
        PodSandbox sandbox;
        string container;
        using (var runtime = new DockerRuntime(Options.Create(first.RuntimeOptions)))
        {
            await runtime.UpdateRuntimeConfigAsync("10.244.9.0/24", CancellationToken.None);
            sandbox = await runtime.RunPodSandboxAsync(new PodSandboxConfig("docker", "adopted", Guid.NewGuid().ToString()), CancellationToken.None);
            container = await runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", ["sleep", "3600"], [], new Dictionary<string, string>()), CancellationToken.None);
            await runtime.StartContainerAsync(container, CancellationToken.None);
        }

        // As when orch is killed: the lock goes with the process, dockerd and its pods stay.
        await first.DetachAsync();
        await using var second = await DockerHost.StartAsync(Options.Create(options));

        second.Adopted.Should().BeTrue();
        second.ProcessId.Should().Be(pid);
        second.NetworkNamespace.Should().Be(first.NetworkNamespace);
        using var adopted = new DockerRuntime(Options.Create(second.RuntimeOptions));
        (await adopted.ListPodSandboxesAsync(CancellationToken.None)).Should().ContainSingle().Which.Should().BeEquivalentTo(sandbox);
        (await adopted.ListContainersAsync(null, CancellationToken.None)).Should().ContainSingle(c => c.Id == container).Which.State.Should().Be(ContainerState.Running);
    }

    [Fact]
    public async Task A_host_on_the_directory_of_a_killed_dockerd_removes_what_it_left_and_starts_clean()
    {
        var options = await DockerFixture.HostOptionsAsync();
        var first = await DockerHost.StartAsync(Options.Create(options));
        using (var runtime = new DockerRuntime(Options.Create(first.RuntimeOptions)))
        {
            await runtime.UpdateRuntimeConfigAsync("10.244.9.0/24", CancellationToken.None);
            var sandbox = await runtime.RunPodSandboxAsync(new PodSandboxConfig("docker", "orphan", Guid.NewGuid().ToString()) { PortMappings = [new PortMapping("TCP", 80, 18092)] }, CancellationToken.None);
            var id = await runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", ["sleep", "3600"], [], new Dictionary<string, string>()), CancellationToken.None);
            await runtime.StartContainerAsync(id, CancellationToken.None);
        }

        var left = ProcessesNaming(first.DataDirectory);
        await first.DetachAsync();
        using (var dockerd = System.Diagnostics.Process.GetProcessById(first.ProcessId!.Value))
        {
            dockerd.Kill();
            await dockerd.WaitForExitAsync();
        }

        await using var second = await DockerHost.StartAsync(Options.Create(options));

        second.Adopted.Should().BeFalse();
        left.Should().HaveCountGreaterThan(1, "the managed containerd and the shims ran beside dockerd");
        left.Where(Alive).Select(pid => $"{pid}: {CommandLine(pid)}").Should().BeEmpty("the killed dockerd's containerd and shims are stopped");
        File.Exists(first.NetworkNamespacePath).Should().BeFalse();
        using var fresh = new DockerRuntime(Options.Create(second.RuntimeOptions));
        (await fresh.ListImagesAsync(CancellationToken.None)).Should().Contain("orchestration.local/sandbox:1");
    }

    // A killed child of this test process stays a zombie until reaped: it counts as gone.
    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "(gone)";
        }
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
