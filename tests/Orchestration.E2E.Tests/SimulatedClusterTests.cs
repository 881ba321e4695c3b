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

    [Fact]
    public async Task Kubectl_shows_a_crash_looping_pod_a_completed_one_and_one_initializing_from_the_simulated_command_conventions()
    {
        await using var orch = await OrchProcess.StartAsync(extraArgs: ["--runtime", "simulated", "--nodes", "1"]);
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            const string Pods = """
                apiVersion: v1
                kind: Pod
                metadata: {name: crash}
                spec:
                  containers: [{name: app, image: busybox, command: ["sh", "-c", "exit 1"]}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: job}
                spec:
                  restartPolicy: Never
                  containers: [{name: work, image: busybox, command: ["sleep", "1"]}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: slow-init}
                spec:
                  initContainers: [{name: setup, image: busybox, command: ["sleep", "3600"]}]
                  containers: [{name: app, image: busybox}]
                """;
            CommandResult applied = new(1, "", "");
            for (var i = 0; i < 100 && applied.ExitCode != 0; i++)
            {
                // The node registers and gets its pod CIDR shortly after the API answers.
                await Task.Delay(100);
                applied = await kubectl.RunAsync(["apply", "-f", "-"], Pods);
            }

            string table = "";
            for (var i = 0; i < 100 && !(table.Contains("CrashLoopBackOff", StringComparison.Ordinal) && table.Contains("Completed", StringComparison.Ordinal) && table.Contains("Init:0/1", StringComparison.Ordinal)); i++)
            {
                await Task.Delay(100);
                table = (await kubectl.RunAsync("get pods")).Stdout;
            }

            applied.ExitCode.Should().Be(0);
            table.Should().MatchRegex(@"crash\s+0/1\s+CrashLoopBackOff\s+[1-9]")
                .And.MatchRegex(@"job\s+0/1\s+Completed\s+0\s")
                .And.MatchRegex(@"slow-init\s+0/1\s+Init:0/1\s+0\s");
            (await kubectl.RunAsync("get events --field-selector involvedObject.name=crash")).Stdout.Should().Contain("Back-off restarting failed container app in pod crash_default(");
        }
        finally
        {
            await orch.DisposeAsync();
            Directory.Delete(orch.DataDir, recursive: true);
        }
    }
}
