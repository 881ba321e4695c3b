using System.Globalization;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// The host-app samples, built and run as their own processes: a cluster composed with the master
/// and worker builders serves the real kubectl, and a worker-only host joins a running orch up.
/// </summary>
[Trait("Category", "E2E")]
public sealed class HostSampleTests
{
    [Fact]
    public async Task A_cluster_composed_in_a_generic_host_serves_kubectl_and_rolls_out_a_deployment_on_its_simulated_nodes()
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-sample-").FullName;
        var port = FreePorts.Next();
        try
        {
            await using var sample = await OrchProcess.StartSampleAsync("ClusterHost", ["--data-dir", dataDir, "--port", port.ToString(CultureInfo.InvariantCulture)], "cluster-host: ready", dataDir, port);
            var kubectl = new Kubectl(Kubectl.Versions[^1], Path.Combine(dataDir, "kubeconfig"));
            (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes --no-headers")).Stdout.Split('\n').Count(l => l.Contains(" Ready ", StringComparison.Ordinal)) == 3, 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"the sample's three simulated nodes register Ready:\n{sample.Output}");

            (await kubectl.RunAsync("create deployment web --image=busybox --replicas=3")).ExitCode.Should().Be(0);
            var rollout = await kubectl.RunAsync(["rollout", "status", "deployment/web", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            rollout.ExitCode.Should().Be(0, $"{rollout}\n{sample.Output}");
            var placed = await kubectl.RunAsync(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}"]);
            placed.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(3).And.OnlyContain(n => n.StartsWith("sample-node-", StringComparison.Ordinal));

            (await sample.StopAsync()).Should().Be(0, sample.Output);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_worker_only_host_joins_a_running_orch_up_and_its_nodes_take_pods()
    {
        await using var orch = await OrchProcess.StartAsync();
        await using var worker = await OrchProcess.StartSampleAsync("WorkerHost", ["--kubeconfig", orch.Kubeconfig, "--node-name", "edge"], "worker-host: joined", orch.DataDir);
        var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
        (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes -l sample=worker-host --no-headers")).Stdout.Split('\n').Count(l => l.Contains(" Ready ", StringComparison.Ordinal)) == 2, 300, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue($"the worker host's two nodes (edge-0, edge-1) register Ready with its label:\n{worker.Output}");

        (await kubectl.RunAsync("create deployment joined --image=busybox --replicas=2")).ExitCode.Should().Be(0);
        var rollout = await kubectl.RunAsync(["rollout", "status", "deployment/joined", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
        rollout.ExitCode.Should().Be(0, $"{rollout}\n{worker.Output}");
        var placed = await kubectl.RunAsync(["get", "pods", "-l", "app=joined", "-o", "jsonpath={.items[*].spec.nodeName}"]);
        placed.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries).Should().OnlyContain(n => n == "edge-0" || n == "edge-1");

        (await worker.StopAsync()).Should().Be(0, worker.Output);
    }
}
