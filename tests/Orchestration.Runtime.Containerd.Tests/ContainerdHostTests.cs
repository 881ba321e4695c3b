using Microsoft.Extensions.Options;

namespace Orchestration.Runtime.Containerd.Tests;

/// <summary>The launcher leaves nothing behind: no containerd, no shim, no container, no namespace, no data.</summary>
[Trait("Category", "Integration")]
[Collection(ContainerdCollection.Name)]
public sealed class ContainerdHostTests
{
    [Fact]
    public async Task Disposing_the_host_stops_containerd_and_its_pods_and_deletes_the_namespace_and_data()
    {
        var host = await ContainerdFixture.StartHostAsync();
        var pid = host.ProcessId!.Value;
        var socket = host.SocketPath;
        using (var runtime = new ContainerdRuntime(Options.Create(host.RuntimeOptions)))
        {
            await runtime.ConnectAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            await runtime.UpdateRuntimeConfigAsync("10.244.9.0/24", CancellationToken.None);
            var sandbox = await runtime.RunPodSandboxAsync(new PodSandboxConfig("default", "left", Guid.NewGuid().ToString()), CancellationToken.None);
            var id = await runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", ["sleep", "3600"], [], new Dictionary<string, string>()), CancellationToken.None);
            await runtime.StartContainerAsync(id, CancellationToken.None);
            Shims(socket).Should().NotBeEmpty("the running pod has shims this test must see go");
        }

        await host.DisposeAsync();

        File.Exists($"/proc/{pid}/cmdline").Should().BeFalse("containerd stopped");
        Shims(socket).Should().BeEmpty();
        File.Exists(host.NetworkNamespacePath).Should().BeFalse();
        Directory.Exists(host.DataDirectory).Should().BeFalse();
    }

    [Fact]
    public async Task A_missing_image_tarball_is_a_clear_error()
    {
        var options = new ContainerdHostOptions { DataDirectory = Path.Combine(Path.GetTempPath(), "orch-ctd-never") };
        options.ImageArchives.Add("/nonexistent/busybox-oci.tar");

        var act = () => ContainerdHost.StartAsync(Options.Create(options));

        (await act.Should().ThrowAsync<InvalidOperationException>()).WithMessage("*/nonexistent/busybox-oci.tar*scripts/build-images.sh*");
    }

    // Processes whose command line names this containerd's socket: its shims.
    private static List<int> Shims(string socket) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => (Pid: int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0, Dir: d))
            .Where(p => p.Pid > 0)
            .Where(p =>
            {
                try
                {
                    var commandLine = File.ReadAllText(Path.Combine(p.Dir, "cmdline"));
                    return commandLine.Contains("containerd-shim", StringComparison.Ordinal) && commandLine.Contains(socket, StringComparison.Ordinal);
                }
                catch (IOException)
                {
                    return false;
                }
            })
            .Select(p => p.Pid)
            .ToList();
}
