using System.Diagnostics;
using System.Text.Json;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>A worker joined with <c>orch agent</c> is stopped: its node goes NotReady and its pods come back on the other nodes.</summary>
[Trait("Category", "E2E")]
public sealed class NodeLossTests
{
    [Fact]
    public async Task A_node_whose_agent_stops_goes_not_ready_is_tainted_and_its_pods_are_recreated_on_other_nodes()
    {
        await using var orch = await OrchProcess.StartAsync(extraArgs: ["--runtime", "simulated", "--nodes", "2", "--node-lease-duration", "2s", "--node-monitor-grace-period", "4s"]);
        Process? worker = null;
        try
        {
            var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "orch.dll"), "agent", "--kubeconfig", orch.Kubeconfig, "--node-name", "worker-x", "--runtime", "simulated", "--node-lease-duration", "2s" })
            {
                start.ArgumentList.Add(arg);
            }

            worker = Process.Start(start)!;
            worker.BeginOutputReadLine();
            worker.BeginErrorReadLine();
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes --no-headers")).Stdout.Split('\n').Count(l => l.Contains(" Ready ", StringComparison.Ordinal)) == 3, 200, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue("two in-process nodes and the worker register");

            // Pods must land on the worker: the others are cordoned until the pods are placed.
            (await kubectl.RunAsync("cordon sim-node-0")).ExitCode.Should().Be(0);
            (await kubectl.RunAsync("cordon sim-node-1")).ExitCode.Should().Be(0);
            const string manifest = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  replicas: 4
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      tolerations:
                      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
                      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
                      containers: [{name: c, image: busybox}]
                """;
            (await kubectl.RunAsync(["apply", "-f", "-"], manifest)).ExitCode.Should().Be(0);
            var rolled = await kubectl.RunAsync(["rollout", "status", "deployment/web", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            rolled.ExitCode.Should().Be(0, rolled.ToString());
            (await NodesOfAsync(kubectl)).Should().AllBe("worker-x");
            (await kubectl.RunAsync("uncordon sim-node-0")).ExitCode.Should().Be(0);
            (await kubectl.RunAsync("uncordon sim-node-1")).ExitCode.Should().Be(0);

            worker.Kill();
            await worker.WaitForExitAsync();

            (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get node worker-x --no-headers")).Stdout.Contains("NotReady", StringComparison.Ordinal), 100, TimeSpan.FromMilliseconds(200)))
                .Should().BeTrue("a node whose lease is not renewed for the grace period is NotReady");
            var taints = await kubectl.RunAsync(["get", "node", "worker-x", "-o", "jsonpath={.spec.taints[*].key}"]);
            taints.Stdout.Should().Contain("node.kubernetes.io/unreachable");

            string[] nodes = [];
            var moved = await Eventually.HoldsAsync(async () => (nodes = await NodesOfAsync(kubectl)).Length == 4 && nodes.All(n => n is "sim-node-0" or "sim-node-1"), 150, TimeSpan.FromMilliseconds(200));
            moved.Should().BeTrue($"the evicted pods are recreated on the live nodes: {string.Join(", ", nodes)}");
            (await kubectl.RunAsync(["rollout", "status", "deployment/web", "--timeout=30s"], timeout: TimeSpan.FromSeconds(40))).ExitCode.Should().Be(0);
        }
        finally
        {
            if (worker is { HasExited: false })
            {
                worker.Kill();
            }

            worker?.Dispose();
            await orch.DisposeAsync();
            Directory.Delete(orch.DataDir, recursive: true);
        }
    }

    /// <summary>The nodes of the Running pods that are not being deleted.</summary>
    private static async Task<string[]> NodesOfAsync(Kubectl kubectl)
    {
        var result = await kubectl.RunAsync(["get", "pods", "-l", "app=web", "-o", "json"]);
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("items").EnumerateArray()
            .Where(p => !p.GetProperty("metadata").TryGetProperty("deletionTimestamp", out _) && p.GetProperty("status").TryGetProperty("phase", out var phase) && phase.GetString() == "Running")
            .Select(p => p.GetProperty("spec").GetProperty("nodeName").GetString()!)
            .ToArray();
    }
}
