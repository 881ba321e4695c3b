using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary><c>orch up --runtime simulated --nodes 3</c>: a whole cluster in one process whose pods run on simulated nodes.</summary>
[Trait("Category", "E2E")]
public sealed class SimulatedClusterTests
{
    [Fact]
    public async Task Replica_set_pods_run_on_simulated_nodes_with_their_own_ips()
    {
        await using var orch = await OrchProcess.StartAsync(extraArgs: ["--runtime", "simulated", "--nodes", "3"]);
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            CommandResult nodes = new(1, "", "");
            for (var i = 0; i < 100 && nodes.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length < 4; i++)
            {
                await Task.Delay(100);
                nodes = await kubectl.RunAsync("get nodes");
            }

            (await kubectl.RunAsync(["apply", "-f", "-"], "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: web\nspec:\n  replicas: 6\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers: [{name: c, image: busybox}]\n")).ExitCode.Should().Be(0);
            string[] running = [];
            for (var i = 0; i < 200 && running.Length < 6; i++)
            {
                await Task.Delay(100);
                var pods = await kubectl.RunAsync(["get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[?(@.status.phase==\"Running\")]}{.status.podIP} {.spec.nodeName}{\"\\n\"}{end}"]);
                running = pods.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }

            var rs = await kubectl.RunAsync("get replicaset web");

            nodes.Stdout.Should().MatchRegex(@"sim-node-0\s+Ready").And.MatchRegex(@"sim-node-2\s+Ready");
            running.Should().HaveCount(6, "every pod runs");
            running.Select(r => r.Split(' ')[0]).Should().OnlyHaveUniqueItems().And.AllSatisfy(ip => ip.Should().StartWith("10.244."));
            running.Select(r => r.Split(' ')[1]).Distinct().Should().HaveCountGreaterThan(1, "pods spread over the nodes");
            rs.Stdout.Should().MatchRegex(@"web\s+6\s+6\s+6\s");
        }
        finally
        {
            await orch.DisposeAsync();
            Directory.Delete(orch.DataDir, recursive: true);
        }
    }
}
