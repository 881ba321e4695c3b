using System.Text;
using k8s.Models;
using Orchestration.Client;
using Orchestration.NodeAgent;
using Orchestration.Resources;
using Orchestration.State;
using Orchestration.TestKit;

namespace Orchestration.Runtime.Containerd.Tests;

/// <summary>
/// The node agent over real containerd: what a pod spec asks for (working directory, env, volumes,
/// limits, host ports) is what the container's processes see.
/// </summary>
[Trait("Category", "Integration")]
[Collection(ContainerdCollection.Name)]
public sealed class ContainerdPodSpecTests(ContainerdFixture containerd) : IAsyncLifetime
{
    private const string Namespace = "agent-tests";
    private const string PodCidr = "10.244.7.0/24";

    private readonly InMemoryStateStore _store = new(new StateStoreOptions { CompactionInterval = null });
    private readonly CancellationTokenSource _stop = new();
    private readonly string _root = Directory.CreateTempSubdirectory("orch-agent-ctd-").FullName;
    private LocalClusterClient _client = null!;
    private Task? _agent;

    private ContainerdRuntime Runtime => containerd.Runtime;

    public async Task InitializeAsync()
    {
        _client = new LocalClusterClient(new ObjectRegistry(_store, ResourceKindTable.CreateDefault(), TimeProvider.System));
        foreach (var ns in new[] { Namespace, "kube-node-lease" })
        {
            await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        }

        var options = new NodeAgentOptions { NodeName = "ctd", Cpu = "2", Memory = "4Gi", RootDirectory = _root, ResyncInterval = TimeSpan.FromMilliseconds(250), NodeIp = "192.0.2.7" };
        _agent = new NodeAgent.NodeAgent(_client, Runtime, options).RunAsync(_stop.Token);
        (await Eventually.HoldsAsync(async () => (await _client.ListAsync<V1Node>(null)).Items.Count == 1, 200, TimeSpan.FromMilliseconds(25))).Should().BeTrue("the node registers");
        await _client.PatchAsync<V1Node>(null, "ctd", new ObjectPatch(PatchKind.Merge, $$$"""{"spec":{"podCIDR":"{{{PodCidr}}}","podCIDRs":["{{{PodCidr}}}"]}}"""));
    }

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _agent!;
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var sandbox in (await Runtime.ListPodSandboxesAsync(CancellationToken.None)).Where(s => s.Config.Namespace == Namespace))
        {
            // After an OOM kill the pod's shim may be going away ("ttrpc: closed"): containerd stops
            // the sandbox on a later try, as the node agent's next sync would.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await Runtime.StopPodSandboxAsync(sandbox.Id, CancellationToken.None);
                    break;
                }
                catch (InvalidOperationException) when (attempt < 5)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
                }
            }

            await Runtime.RemovePodSandboxAsync(sandbox.Id, CancellationToken.None);
        }

        _stop.Dispose();
        await _store.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task The_process_runs_in_its_working_dir_with_its_env_and_sees_its_volumes()
    {
        var host = Directory.CreateTempSubdirectory("orch-hostpath-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(host, "from-node.txt"), "node data");
            await _client.CreateAsync(new V1ConfigMap
            {
                Metadata = new V1ObjectMeta { Name = "web-config", NamespaceProperty = Namespace },
                Data = new Dictionary<string, string> { ["app.conf"] = "port=80", ["MODE"] = "fast" },
            });
            await _client.CreateAsync(new V1Secret
            {
                Metadata = new V1ObjectMeta { Name = "creds", NamespaceProperty = Namespace },
                Data = new Dictionary<string, byte[]> { ["password"] = Encoding.UTF8.GetBytes("s3cret") },
            });
            var container = new V1Container
            {
                Name = "app",
                Image = "busybox",
                Command = ["sh", "-c", "sleep 3600"],
                WorkingDir = "/scratch/work",
                EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "web-config" }, Prefix = "CFG_" }],
                Env =
                [
                    new V1EnvVar { Name = "GREETING", Value = "hello" },
                    new V1EnvVar { Name = "POD_NAME", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
                    new V1EnvVar { Name = "MESSAGE", Value = "$(GREETING) from $(POD_NAME) $(LATER)" },
                    new V1EnvVar { Name = "LATER", Value = "defined after MESSAGE" },
                    new V1EnvVar { Name = "POD_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } },
                    new V1EnvVar { Name = "PASSWORD", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "creds", Key = "password" } } },
                ],
                VolumeMounts =
                [
                    new V1VolumeMount { Name = "scratch", MountPath = "/scratch" },
                    new V1VolumeMount { Name = "config", MountPath = "/etc/app" },
                    new V1VolumeMount { Name = "secret", MountPath = "/etc/secret" },
                    new V1VolumeMount { Name = "node", MountPath = "/node" },
                    new V1VolumeMount { Name = "node", MountPath = "/node-ro", ReadOnlyProperty = true },
                ],
            };
            var pod = Pod("volumes", container);
            pod.Spec.Volumes =
            [
                new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() },
                new V1Volume { Name = "config", ConfigMap = new V1ConfigMapVolumeSource { Name = "web-config" } },
                new V1Volume { Name = "secret", Secret = new V1SecretVolumeSource { SecretName = "creds" } },
                new V1Volume { Name = "node", HostPath = new V1HostPathVolumeSource { Path = host, Type = "Directory" } },
            ];
            var created = await _client.CreateAsync(pod);
            var running = await WaitForAsync("volumes", p => p.Status?.Phase == "Running", "the pod runs");
            var id = ContainerId(running);

            var shell = await Runtime.ExecSyncAsync(id, ["sh", "-c", "pwd; echo \"$MESSAGE|$POD_IP|$PASSWORD|$CFG_MODE\""], TimeSpan.FromSeconds(10), CancellationToken.None);
            var files = await Runtime.ExecSyncAsync(id, ["sh", "-c", "cat /etc/app/app.conf; echo; cat /etc/secret/password; echo; cat /node/from-node.txt; echo"], TimeSpan.FromSeconds(10), CancellationToken.None);
            var writes = await Runtime.ExecSyncAsync(id, ["sh", "-c", "echo from-pod > /scratch/kept.txt && echo from-pod > /node/from-pod.txt && echo ok; echo x > /etc/app/new || echo config-ro; echo x > /node-ro/new || echo node-ro"], TimeSpan.FromSeconds(10), CancellationToken.None);

            shell.Should().Be(new ExecResult(0, $"/scratch/work\nhello from volumes $(LATER)|{running.Status.PodIP}|s3cret|fast\n"));
            files.Should().Be(new ExecResult(0, "port=80\ns3cret\nnode data\n"));
            writes.Output.Should().ContainAll("ok\n", "config-ro\n", "node-ro\n");
            (await File.ReadAllTextAsync(Path.Combine(host, "from-pod.txt"))).Should().Be("from-pod\n", "the hostPath is the node's own directory");
            var emptyDir = Path.Combine(_root, "pods", created.Metadata.Uid, "volumes", "kubernetes.io~empty-dir", "scratch");
            (await File.ReadAllTextAsync(Path.Combine(emptyDir, "kept.txt"))).Should().Be("from-pod\n");

            await _client.DeleteAsync<V1Pod>(Namespace, "volumes");
            (await Eventually.HoldsAsync(() => !Directory.Exists(Path.Combine(_root, "pods", created.Metadata.Uid)), 400, TimeSpan.FromMilliseconds(50)))
                .Should().BeTrue("the deleted pod's volumes go with its sandbox");
            File.Exists(Path.Combine(host, "from-node.txt")).Should().BeTrue("a hostPath's content is the node's and stays");
        }
        finally
        {
            Directory.Delete(host, recursive: true);
        }
    }

    [Fact]
    public async Task A_container_over_its_memory_limit_is_OOMKilled_and_the_pod_status_says_so()
    {
        var container = new V1Container
        {
            Name = "hog",
            Image = "busybox",

            // The shell keeps the 100 MB the command substitution produces: far over the 20 MiB limit.
            Command = ["sh", "-c", "x=$(yes | head -c 100000000); echo survived"],
            Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("20Mi") } },
        };
        var pod = Pod("oom", container);
        pod.Spec.RestartPolicy = "Never";
        await _client.CreateAsync(pod);

        var failed = await WaitForAsync("oom", p => p.Status?.Phase == "Failed", "the container is killed");

        failed.Status.ContainerStatuses.Single().State.Terminated.Should().BeEquivalentTo(new { Reason = "OOMKilled", ExitCode = 137 });
    }

    [Fact]
    public async Task Cpu_and_memory_requests_and_limits_are_the_containers_cgroup_values()
    {
        var container = new V1Container
        {
            Name = "limited",
            Image = "busybox",
            Command = ["sleep", "3600"],
            Resources = new V1ResourceRequirements
            {
                Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("250m") },
                Limits = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("500m"), ["memory"] = new("64Mi") },
            },
        };
        await _client.CreateAsync(Pod("limits", container));
        var running = await WaitForAsync("limits", p => p.Status?.Phase == "Running", "the pod runs");

        var cgroup = await Runtime.ExecSyncAsync(
            ContainerId(running),
            ["sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/memory/memory.limit_in_bytes"],
            TimeSpan.FromSeconds(10),
            CancellationToken.None);

        cgroup.Should().Be(new ExecResult(0, $"100000\n50000\n256\n{64 * 1024 * 1024}\n"));
    }

    [Fact]
    public async Task A_host_port_is_reachable_on_the_node_inside_containerds_network_namespace()
    {
        var container = new V1Container
        {
            Name = "web",
            Image = "busybox",
            Command = ["sh", "-c", "echo hostport > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"],
            Ports = [new V1ContainerPort { ContainerPort = 8080, HostPort = 18080 }],
        };
        await _client.CreateAsync(Pod("hostport", container));
        var running = await WaitForAsync("hostport", p => p.Status?.Phase == "Running", "the pod runs");

        // The node's side of the pod bridge (the gateway, .1) is an address of the namespace containerd runs in.
        var ip = running.Status.PodIP;
        var node = ip[..(ip.LastIndexOf('.') + 1)] + "1";
        var probe = new NetworkProbe(ContainerId(running), node, 18080, "/index.html", "HTTP", new Dictionary<string, string>());
        var reached = await Eventually.HoldsAsync(async () => (await Runtime.ProbeAsync(probe, TimeSpan.FromSeconds(1), CancellationToken.None)).Success, 100, TimeSpan.FromMilliseconds(100));
        var direct = await Runtime.ProbeAsync(probe with { Port = 8080 }, TimeSpan.FromSeconds(1), CancellationToken.None);

        reached.Should().BeTrue($"port 18080 of {node} is mapped to the pod's 8080 by the portmap plugin");
        direct.Success.Should().BeFalse("only the host port is mapped: the node itself does not listen on 8080");
    }

    private static V1Pod Pod(string name, V1Container container) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Namespace },
        Spec = new V1PodSpec { NodeName = "ctd", Containers = [container], TerminationGracePeriodSeconds = 1 },
    };

    private static string ContainerId(V1Pod pod) => pod.Status.ContainerStatuses.Single().ContainerID.Split("://")[1];

    private async Task<V1Pod> WaitForAsync(string name, Func<V1Pod, bool> condition, string because)
    {
        V1Pod? last = null;
        var held = await Eventually.HoldsAsync(
            async () =>
            {
                last = await _client.GetAsync<V1Pod>(Namespace, name);
                return condition(last);
            },
            300,
            TimeSpan.FromMilliseconds(100));
        held.Should().BeTrue($"{because} (last status: {(last?.Status is null ? "none" : k8s.KubernetesJson.Serialize(last.Status))})");
        return last!;
    }
}
