using Microsoft.Extensions.Options;

namespace Orchestration.Runtime.Containerd.Tests;

/// <summary>
/// The launcher leaves nothing behind: no containerd, no shim, no container, no namespace, no data;
/// a host started again on the directory of one that went away adopts its running containerd, or
/// removes what a dead one left; two hosts never share a directory.
/// </summary>
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

    [Fact]
    public async Task A_host_started_on_the_directory_of_one_that_went_away_adopts_its_running_containerd_with_the_containers()
    {
        var options = Options.Create(await ContainerdFixture.HostOptionsAsync());
        var first = await ContainerdHost.StartAsync(options);
        var pid = first.ProcessId!.Value;
        var (containerId, startedAt) = await RunContainerAsync(first, "kept");

        await first.DetachAsync();
        var second = await ContainerdHost.StartAsync(options);
        ContainerStatus adopted;
        using (var runtime = new ContainerdRuntime(Options.Create(second.RuntimeOptions)))
        {
            adopted = (await runtime.ListContainersAsync(null, CancellationToken.None)).Single();
        }

        second.Adopted.Should().BeTrue();
        second.ProcessId.Should().Be(pid, "the containerd that ran on is taken over, not replaced");
        second.NetworkNamespace.Should().Be(first.NetworkNamespace);
        adopted.Id.Should().Be(containerId);
        adopted.State.Should().Be(ContainerState.Running);
        adopted.StartedAt.Should().Be(startedAt, "the container was never restarted");

        await second.DisposeAsync();
        IsRunning(pid).Should().BeFalse("disposing the adopting host stops the adopted containerd");
        Shims(second.SocketPath).Should().BeEmpty();
        File.Exists(second.NetworkNamespacePath).Should().BeFalse();
    }

    [Fact]
    public async Task A_host_started_after_its_containerd_was_killed_removes_the_leftover_containers_and_namespaces_and_starts_a_new_one()
    {
        var options = Options.Create(await ContainerdFixture.HostOptionsAsync());
        var first = await ContainerdHost.StartAsync(options);
        var pid = first.ProcessId!.Value;
        await RunContainerAsync(first, "orphaned");
        var shims = Shims(first.SocketPath);
        var containers = ChildrenOf(shims);
        var podNamespaces = await NamespacesOfAsync(containers);
        containers.Should().NotBeEmpty();
        podNamespaces.Should().NotBeEmpty().And.NotContain(first.NetworkNamespace);

        await RunAsync("kill", "-KILL", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        (await Orchestration.TestKit.Eventually.HoldsAsync(() => !IsRunning(pid), 100, TimeSpan.FromMilliseconds(50))).Should().BeTrue();
        await first.DetachAsync();
        await using var second = await ContainerdHost.StartAsync(options);
        IReadOnlyList<PodSandbox> sandboxes;
        using (var runtime = new ContainerdRuntime(Options.Create(second.RuntimeOptions)))
        {
            sandboxes = await runtime.ListPodSandboxesAsync(CancellationToken.None);
            await runtime.UpdateRuntimeConfigAsync("10.244.9.0/24", CancellationToken.None);
            (await runtime.RunPodSandboxAsync(new PodSandboxConfig("default", "fresh", Guid.NewGuid().ToString()), CancellationToken.None)).Ip.Should().StartWith("10.244.9.", "the new containerd runs pods");
        }

        second.Adopted.Should().BeFalse();
        second.ProcessId.Should().NotBe(pid);
        shims.Concat(containers).Where(IsRunning).Should().BeEmpty("the dead containerd's shims and containers are ended");
        File.Exists(first.NetworkNamespacePath).Should().BeFalse("the dead containerd's namespace is deleted");
        podNamespaces.Should().NotContain(name => File.Exists($"/var/run/netns/{name}"), "so are its pods' namespaces");
        sandboxes.Should().BeEmpty("the new containerd starts without the dead one's sandboxes");
    }

    [Fact]
    public async Task A_second_host_on_a_directory_in_use_is_refused_and_the_first_keeps_running()
    {
        var options = Options.Create(await ContainerdFixture.HostOptionsAsync());
        await using var first = await ContainerdHost.StartAsync(options);

        var act = () => ContainerdHost.StartAsync(options);

        (await act.Should().ThrowAsync<InvalidOperationException>()).WithMessage("Another process runs the containerd of*");
        first.ProcessId.Should().NotBeNull();
        File.Exists(first.NetworkNamespacePath).Should().BeTrue();
    }

    // A sandbox with one busybox container sleeping in it; returns the container's id and start.
    private static async Task<(string Id, DateTimeOffset? StartedAt)> RunContainerAsync(ContainerdHost host, string pod)
    {
        using var runtime = new ContainerdRuntime(Options.Create(host.RuntimeOptions));
        await runtime.ConnectAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
        await runtime.UpdateRuntimeConfigAsync("10.244.9.0/24", CancellationToken.None);
        var sandbox = await runtime.RunPodSandboxAsync(new PodSandboxConfig("default", pod, Guid.NewGuid().ToString()), CancellationToken.None);
        var id = await runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("app", "busybox", ["sleep", "3600"], [], new Dictionary<string, string>()), CancellationToken.None);
        await runtime.StartContainerAsync(id, CancellationToken.None);
        return (id, (await runtime.ContainerStatusAsync(id, CancellationToken.None)).StartedAt);
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static List<int> ChildrenOf(List<int> parents) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0)
            .Where(pid =>
            {
                try
                {
                    var stat = File.ReadAllText($"/proc/{pid}/stat");
                    return parents.Contains(int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
                }
                catch (IOException)
                {
                    return false;
                }
            })
            .ToList();

    private static async Task<List<string>> NamespacesOfAsync(List<int> pids)
    {
        var names = new List<string>();
        foreach (var pid in pids)
        {
            names.AddRange((await RunAsync("ip", "netns", "identify", pid.ToString(System.Globalization.CultureInfo.InvariantCulture))).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        return names.Distinct().ToList();
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return output;
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
