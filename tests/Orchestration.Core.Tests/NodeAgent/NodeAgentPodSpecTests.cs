using k8s.Models;
using Orchestration.Runtime;
using static Orchestration.Core.Tests.NodeAgent.NodeAgentHarness;

namespace Orchestration.Core.Tests.NodeAgent;

/// <summary>The pod spec turned into container and sandbox config: env, working directory, volumes, limits, host ports.</summary>
[Trait("Category", "Unit")]
public sealed class NodeAgentPodSpecTests
{
    [Fact]
    public async Task A_container_gets_its_working_dir_env_mounts_and_limits_and_the_sandbox_its_host_ports()
    {
        await using var node = await StartAsync();
        var container = Container("app", "sh", "-c", "echo $(GREETING) from $(POD_IP)");
        container.WorkingDir = "/srv";
        container.Env =
        [
            new V1EnvVar { Name = "POD_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } },
            new V1EnvVar { Name = "GREETING", Value = "hello $(POD_IP)" },
        ];
        container.Resources = new V1ResourceRequirements
        {
            Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("100m") },
            Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("1"), ["memory"] = new("64Mi") },
        };
        container.VolumeMounts = [new V1VolumeMount { Name = "scratch", MountPath = "/scratch" }];
        container.Ports = [new V1ContainerPort { ContainerPort = 8080, HostPort = 18080 }, new V1ContainerPort { ContainerPort = 53, HostPort = 1053, Protocol = "UDP", HostIP = "127.0.0.1" }, new V1ContainerPort { ContainerPort = 9090 }];
        var pod = Pod("spec", "Always", container);
        pod.Spec.Volumes = [new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() }];
        var created = await node.CreateAsync(pod);

        var running = await node.WaitForAsync("spec", p => p.Status?.Phase == "Running", "the pod runs");
        var config = node.Runtime.ConfigOf((await node.RunningAsync("spec", "app")).Id)!;
        var sandbox = (await node.Runtime.ListPodSandboxesAsync(CancellationToken.None)).Single();

        var ip = running.Status.PodIP;
        config.WorkingDirectory.Should().Be("/srv");
        config.Environment.Should().Equal(new Dictionary<string, string> { ["POD_IP"] = ip, ["GREETING"] = $"hello {ip}" });
        config.Args.Should().BeEmpty();
        config.Command.Should().Equal("sh", "-c", $"echo hello {ip} from {ip}");
        config.Mounts.Should().Equal(new ContainerMount("/scratch", Path.Combine(node.RootDirectory, "pods", created.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "scratch")));
        Directory.Exists(config.Mounts[0].HostPath).Should().BeTrue();
        config.Resources.Should().Be(new ContainerResources(100_000, 100_000, 102, 64 * 1024 * 1024));
        sandbox.Config.PortMappings.Should().Equal(new PortMapping("TCP", 8080, 18080), new PortMapping("UDP", 53, 1053, "127.0.0.1"));
    }

    [Fact]
    public async Task A_missing_configMap_makes_the_container_wait_with_CreateContainerConfigError_and_it_starts_once_the_configMap_exists()
    {
        await using var node = await StartAsync();
        var container = Container("app", "sleep", "infinity");
        container.Env = [new V1EnvVar { Name = "MODE", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "later", Key = "mode" } } }];
        await node.CreateAsync(Pod("config", "Always", container));

        var waiting = await node.WaitForAsync("config", p => p.Status?.ContainerStatuses?.Single().State.Waiting?.Reason == "CreateContainerConfigError", "the missing ConfigMap shows as kubelet's reason");
        await node.Client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "later", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["mode"] = "on" } });
        await Task.Delay(200);
        (await node.GetAsync("config")).Status.Phase.Should().Be("Pending", "the agent does not watch ConfigMaps: it tries again after 10 s, as kubelet's pod sync does");
        await node.AdvanceAsync(10);

        await node.WaitForAsync("config", p => p.Status.Phase == "Running", "the container starts once the ConfigMap is there");
        waiting.Status.ContainerStatuses.Single().State.Waiting.Message.Should().Be("configmap \"later\" not found");
        waiting.Status.Phase.Should().Be("Pending");
        (await node.EventsAsync("config")).Should().Contain(e => e.Reason == "Failed" && e.Message == "Error: configmap \"later\" not found");
        node.Runtime.ConfigOf((await node.RunningAsync("config", "app")).Id)!.Environment["MODE"].Should().Be("on");
    }

    [Fact]
    public async Task A_missing_configMap_volume_keeps_the_pod_in_ContainerCreating_without_a_sandbox_until_it_exists()
    {
        await using var node = await StartAsync();
        var container = Container("app", "sleep", "infinity");
        container.VolumeMounts = [new V1VolumeMount { Name = "cfg", MountPath = "/etc/app" }];
        var pod = Pod("mount", "Always", container);
        pod.Spec.Volumes = [new V1Volume { Name = "cfg", ConfigMap = new V1ConfigMapVolumeSource { Name = "app-config" } }];
        await node.CreateAsync(pod);

        var waiting = await node.WaitForAsync("mount", p => p.Status?.ContainerStatuses?.Single().State.Waiting?.Reason == "ContainerCreating", "the container waits for its volume");
        await EventuallyAsync(async () => (await node.EventsAsync("mount")).Any(e => e.Reason == "FailedMount"), "a FailedMount event says why");
        (await node.Runtime.ListPodSandboxesAsync(CancellationToken.None)).Should().BeEmpty("no sandbox before the volumes are there");
        await node.Client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "app-config", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["app.conf"] = "x=1" } });
        await node.AdvanceAsync(10);

        await node.WaitForAsync("mount", p => p.Status.Phase == "Running", "the pod starts once the ConfigMap is there");
        waiting.Status.Phase.Should().Be("Pending");
        waiting.Status.PodIP.Should().BeNull();
        (await node.EventsAsync("mount")).Single(e => e.Reason == "FailedMount").Message
            .Should().Be("MountVolume.SetUp failed for volume \"cfg\" : configmap \"app-config\" not found");
        var mount = node.Runtime.ConfigOf((await node.RunningAsync("mount", "app")).Id)!.Mounts.Single();
        mount.ReadOnly.Should().BeTrue();
        (await File.ReadAllTextAsync(Path.Combine(mount.HostPath, "app.conf"))).Should().Be("x=1");
    }

    [Fact]
    public async Task An_emptyDir_keeps_its_files_when_the_container_restarts_and_goes_when_the_pod_is_deleted()
    {
        await using var node = await StartAsync();
        var container = Container("app", "sleep", "infinity");
        container.VolumeMounts = [new V1VolumeMount { Name = "scratch", MountPath = "/scratch" }];
        var pod = Pod("scratch", "Always", container);
        pod.Spec.Volumes = [new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() }];
        var created = await node.CreateAsync(pod);
        await node.WaitForAsync("scratch", p => p.Status?.Phase == "Running", "the pod runs");
        var first = await node.RunningAsync("scratch", "app");
        var path = node.Runtime.ConfigOf(first.Id)!.Mounts.Single().HostPath;
        await File.WriteAllTextAsync(Path.Combine(path, "state"), "written by attempt 0");

        node.Runtime.Exit(first.Id, 1, "Error");
        await node.AdvanceAsync(1);
        await node.WaitForAsync("scratch", p => p.Status.ContainerStatuses.Single() is { RestartCount: 1, State.Running: not null }, "the container restarts");
        var second = await node.RunningAsync("scratch", "app");

        node.Runtime.ConfigOf(second.Id)!.Mounts.Single().HostPath.Should().Be(path);
        (await File.ReadAllTextAsync(Path.Combine(path, "state"))).Should().Be("written by attempt 0");
        await node.Client.DeleteAsync<V1Pod>("default", "scratch");
        await EventuallyAsync(() => Task.FromResult(!Directory.Exists(Path.Combine(node.RootDirectory, "pods", created.Metadata.Uid))), "the pod's directory goes with its sandbox");
    }

    [Fact]
    public async Task A_new_agent_sweeps_the_volumes_of_pods_that_are_gone()
    {
        await using var node = await StartAsync();
        await node.StopAgentAsync();
        var stale = Directory.CreateDirectory(Path.Combine(node.RootDirectory, "pods", "uid-of-a-deleted-pod", "volumes", "kubernetes.io~empty-dir", "x")).FullName;

        await node.StartAgentAsync();

        await EventuallyAsync(() => Task.FromResult(!Directory.Exists(Path.Combine(node.RootDirectory, "pods", "uid-of-a-deleted-pod"))), "the orphaned directory is removed");
        stale.Should().NotBeNull();
    }

    [Fact]
    public async Task A_container_killed_for_its_memory_limit_shows_OOMKilled_in_its_last_state()
    {
        await using var node = await StartAsync();
        await node.CreateAsync(Pod("oom", "Always", Container("app", "sleep", "infinity")));
        await node.WaitForAsync("oom", p => p.Status?.Phase == "Running", "the pod runs");

        node.Runtime.Exit((await node.RunningAsync("oom", "app")).Id, 137, "OOMKilled");
        await node.AdvanceAsync(1);

        var pod = await node.WaitForAsync("oom", p => p.Status.ContainerStatuses.Single().LastState?.Terminated is not null, "the exit is noticed");
        pod.Status.ContainerStatuses.Single().LastState.Terminated.Should().BeEquivalentTo(new { ExitCode = 137, Reason = "OOMKilled" });
    }
}
