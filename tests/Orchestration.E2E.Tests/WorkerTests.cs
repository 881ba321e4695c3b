using System.Text.Json;
using System.Text.RegularExpressions;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// Workers that join a cluster with <c>orch agent</c> run real containers: one on containerd (the
/// default), one on Docker, each in a daemon of its own, beside a control plane started with
/// <c>orch up --runtime none</c>; driven by the real kubectl through the API server.
/// </summary>
[Trait("Category", "E2E")]
public sealed partial class WorkerTests
{
    private const string DaemonSet = """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: web
                image: busybox
                env:
                - name: NODE
                  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
                command: ["sh", "-c", "echo hello from $NODE; echo $NODE > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
                readinessProbe:
                  httpGet: {path: /, port: 8080}
                  periodSeconds: 1
        """;

    [Fact]
    public async Task Workers_joined_with_orch_agent_on_containerd_and_on_docker_run_a_daemonset_serve_logs_and_exec_and_stop_cleanly()
    {
        var archive = await ImageArchive.PathAsync();
        await using var orch = await OrchProcess.StartAsync();
        var containerdDir = Directory.CreateTempSubdirectory("orch-worker-c-").FullName;
        var dockerDir = Directory.CreateTempSubdirectory("orch-worker-d-").FullName;
        OrchProcess? onContainerd = null;
        OrchProcess? onDocker = null;
        try
        {
            // Each worker runs on its node's own credential: the Node authorizer and NodeRestriction decide what it may do.
            onContainerd = await OrchProcess.StartAgentAsync(await NodeKubeconfigAsync(orch, "worker-c"), containerdDir, "--node-name", "worker-c", "--image-archive", archive);
            onDocker = await OrchProcess.StartAgentAsync(await NodeKubeconfigAsync(orch, "worker-d"), dockerDir, "--node-name", "worker-d", "--runtime", "docker", "--image-archive", archive);
            onContainerd.Output.Should().Contain("orch: worker worker-c (containerd) joined the cluster");
            onDocker!.Output.Should().Contain("orch: worker worker-d (docker) joined the cluster");
            var kubectl = new Kubectl(Kubectl.Versions[^1], orch.Kubeconfig);
            (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes --no-headers")).Stdout.Split('\n').Count(l => l.Contains(" Ready ", StringComparison.Ordinal)) == 2, 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"both workers register Ready nodes:\n{onContainerd.Output}\n{onDocker.Output}");

            (await kubectl.RunAsync(["apply", "-f", "-"], DaemonSet)).ExitCode.Should().Be(0);
            var rollout = await kubectl.RunAsync(["rollout", "status", "daemonset/web", "--timeout=90s"], timeout: TimeSpan.FromSeconds(100));
            rollout.ExitCode.Should().Be(0, $"{rollout}\n{onContainerd.Output}\n{onDocker.Output}");

            var nodes = JsonDocument.Parse((await kubectl.RunAsync("get nodes -o json")).Stdout).RootElement.GetProperty("items").EnumerateArray()
                .ToDictionary(n => n.GetProperty("metadata").GetProperty("name").GetString()!, n => n);
            nodes["worker-c"].GetProperty("status").GetProperty("nodeInfo").GetProperty("containerRuntimeVersion").GetString().Should().StartWith("containerd://");
            nodes["worker-d"].GetProperty("status").GetProperty("nodeInfo").GetProperty("containerRuntimeVersion").GetString().Should().StartWith("docker://");
            var pods = JsonDocument.Parse((await kubectl.RunAsync("get pods -l app=web -o json")).Stdout).RootElement.GetProperty("items").EnumerateArray().ToList();
            pods.Select(p => p.GetProperty("spec").GetProperty("nodeName").GetString()).Should().BeEquivalentTo(["worker-c", "worker-d"], "the DaemonSet puts one pod on each worker");
            foreach (var pod in pods)
            {
                var name = pod.GetProperty("metadata").GetProperty("name").GetString()!;
                var node = pod.GetProperty("spec").GetProperty("nodeName").GetString()!;
                var status = pod.GetProperty("status");
                var podCidr = nodes[node].GetProperty("spec").GetProperty("podCIDR").GetString()!;
                status.GetProperty("containerStatuses")[0].GetProperty("containerID").GetString().Should().StartWith(node == "worker-c" ? "containerd://" : "docker://");
                status.GetProperty("podIP").GetString().Should().StartWith(podCidr[..podCidr.LastIndexOf('.')] + ".", $"{name} takes its IP from {node}'s block {podCidr}");

                (await kubectl.RunAsync($"logs {name}")).Stdout.Should().Be($"hello from {node}\n", "logs come from the worker's node server through the API server");
                var exec = await kubectl.RunAsync(["exec", name, "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]);
                exec.ExitCode.Should().Be(0, exec.ToString());
                exec.Stdout.Should().Be($"{node}\n");
            }

            (await kubectl.RunAsync(["delete", "daemonset", "web", "--wait=true", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70))).ExitCode.Should().Be(0);
            var containerdNamespace = NamespaceLine().Match(onContainerd.Output).Groups[1].Value;
            var dockerNamespace = NamespaceLine().Match(onDocker.Output).Groups[1].Value;
            containerdNamespace.Should().NotBeEmpty(onContainerd.Output);
            dockerNamespace.Should().NotBeEmpty(onDocker.Output);

            onContainerd.Output.Should().NotContainAny(["forbidden", "Forbidden"], "the node's credential holds every right its agent, proxy and DNS use");
            onDocker.Output.Should().NotContainAny(["forbidden", "Forbidden"]);
            (await onContainerd.StopAsync()).Should().Be(0, onContainerd.Output);
            (await onDocker.StopAsync()).Should().Be(0, onDocker.Output);
            onContainerd.Output.Should().Contain("orch: worker stopped");
            onDocker.Output.Should().Contain("orch: worker stopped");
            var namespaces = await HostProcesses.RunAsync("ip", "netns", "list");
            namespaces.Should().NotContain(containerdNamespace, "a stopped worker removes its daemon's network namespace").And.NotContain(dockerNamespace);
            var mounts = await File.ReadAllTextAsync("/proc/self/mountinfo");
            mounts.Should().NotContain(containerdDir).And.NotContain(dockerDir);
        }
        finally
        {
            if (onContainerd is not null)
            {
                await onContainerd.DisposeAsync();
            }

            if (onDocker is not null)
            {
                await onDocker.DisposeAsync();
            }

            await orch.DisposeAsync();
            foreach (var dir in new[] { containerdDir, dockerDir, orch.DataDir })
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                }
            }
        }
    }

    /// <summary>A kubeconfig for the node <paramref name="node"/> (user system:node:NAME in group system:nodes), issued by orch kubeconfig --node.</summary>
    private static async Task<string> NodeKubeconfigAsync(OrchProcess orch, string node)
    {
        var file = Path.Combine(orch.DataDir, $"kubeconfig-{node}");
        var issued = await OrchProcess.RunToExitAsync(TimeSpan.FromSeconds(60), ["kubeconfig", "--data-dir", orch.DataDir, "--node", node, "--output", file]);
        issued.ExitCode.Should().Be(0, issued.ToString());
        return file;
    }

    [Theory]
    [InlineData("--runtime docker --containerd-socket /run/x.sock", "--containerd-socket is for --runtime containerd.")]
    [InlineData("--runtime containerd --docker-socket /run/x.sock", "--docker-socket is for --runtime docker.")]
    [InlineData("--nodes 3", "--nodes is for --runtime simulated")]
    [InlineData("--runtime simulated --image-archive x.tar", "--image-archive and --data-dir are for --runtime containerd or docker")]
    public async Task Orch_agent_refuses_an_option_of_another_runtime_instead_of_ignoring_it(string arguments, string message)
    {
        var kubeconfig = Path.GetTempFileName();
        try
        {
            var result = await OrchProcess.RunToExitAsync(TimeSpan.FromSeconds(30), ["agent", "--kubeconfig", kubeconfig, .. arguments.Split(' ')]);

            result.ExitCode.Should().Be(1, result.ToString());
            result.Stderr.Should().Contain(message);
            result.Stdout.Should().NotContain("joined the cluster");
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    [GeneratedRegex(@"network namespace (orch-[0-9a-f]+)")]
    private static partial Regex NamespaceLine();
}
