using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// <c>orch</c> as a new user gets it: the package in <c>artifacts/packages</c> (the test command
/// packs every project) installed with <c>dotnet tool install</c> into a tool path outside the
/// checkout, and run from a folder outside it, where no <c>artifacts/images</c> can be found.
/// </summary>
[Trait("Category", "E2E")]
public sealed class InstalledToolTests(InstalledToolTests.InstalledOrch tool) : IClassFixture<InstalledToolTests.InstalledOrch>
{
    [Fact]
    public async Task The_installed_tool_runs_a_simulated_cluster_that_rolls_out_a_deployment()
    {
        var dataDir = Path.Combine(tool.Root, "simulated");
        var port = FreePorts.Next();
        await using (var orch = await OrchProcess.StartInstalledAsync(tool.Executable, tool.WorkingDirectory, dataDir, port, "--runtime", "simulated", "--nodes", "2"))
        {
            var kubectl = new Kubectl(Kubectl.Versions[^1], orch.Kubeconfig);
            (await kubectl.RunAsync("create deployment web --image=busybox --replicas=2")).ExitCode.Should().Be(0);
            var rollout = await kubectl.RunAsync(["rollout", "status", "deployment/web", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            rollout.ExitCode.Should().Be(0, $"{rollout}\n{orch.Output}");
            (await orch.StopAsync()).Should().Be(0, orch.Output);
        }
    }

    [Fact]
    public async Task The_installed_tool_outside_the_checkout_builds_its_images_and_runs_a_real_pod_on_containerd()
    {
        var dataDir = Path.Combine(tool.Root, "containerd");
        var port = FreePorts.Next();
        await using var orch = await OrchProcess.StartInstalledAsync(tool.Executable, tool.WorkingDirectory, dataDir, port);
        orch.Output.Should().Contain($"Built the node's busybox and sandbox images into {dataDir}/containerd/images/busybox-oci.tar from /bin/busybox", "nothing of the checkout is reachable from there");

        var kubectl = new Kubectl(Kubectl.Versions[^1], orch.Kubeconfig);
        (await kubectl.RunAsync(["run", "hello", "--image=busybox", "--restart=Never", "--", "sh", "-c", "echo hello from the installed tool; sleep 3600"])).ExitCode.Should().Be(0);
        var ready = await kubectl.RunAsync(["wait", "--for=condition=Ready", "pod/hello", "--timeout=90s"], timeout: TimeSpan.FromSeconds(100));
        ready.ExitCode.Should().Be(0, $"{ready}\n{orch.Output}");
        (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("logs hello")).Stdout.Contains("hello from the installed tool", StringComparison.Ordinal), 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("the pod ran in the node's containerd from the images the tool built");

        (await orch.StopAsync()).Should().Be(0, orch.Output);
        orch.Output.Should().Contain("orch: stopped");
        (await File.ReadAllTextAsync("/proc/self/mountinfo")).Should().NotContain(dataDir, "a stopped orch unmounts everything under its data directory");
    }

    /// <summary>The tool installed once for the class, into a temporary tool path with its own package cache.</summary>
    public sealed class InstalledOrch : IAsyncLifetime
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("orch-tool-").FullName;

        public string Executable => Path.Combine(Root, "tools", "orch");

        public string WorkingDirectory => Path.Combine(Root, "work");

        public async Task InitializeAsync()
        {
            var version = Artifacts.PackedVersion("Orchestration.Cli");
            Directory.CreateDirectory(WorkingDirectory);
            var config = await Artifacts.WriteNuGetConfigAsync(Root, withNuGetOrg: false);
            var install = await Artifacts.DotnetAsync(WorkingDirectory, Path.Combine(Root, "nuget"), TimeSpan.FromMinutes(2), "tool", "install", "Orchestration.Cli", "--tool-path", Path.Combine(Root, "tools"), "--configfile", config, "--version", version);
            install.ExitCode.Should().Be(0, install.ToString());
            File.Exists(Executable).Should().BeTrue(install.ToString());
        }

        public Task DisposeAsync()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // A stopped orch leaves nothing mounted; what could not go is in the temporary directory.
            }

            return Task.CompletedTask;
        }
    }
}
