using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Orchestration.Testing;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary><c>orch up --runtime docker</c>: one node running real containers in a dockerd of its own, driven by the real kubectl.</summary>
[Trait("Category", "E2E")]
public sealed partial class DockerClusterTests
{
    [Fact]
    public async Task A_two_container_pod_runs_in_docker_is_ready_by_its_probe_logs_through_kubectl_and_stopping_orch_leaves_nothing()
    {
        var archive = await ImageArchive.PathAsync();
        await using var orch = await OrchProcess.StartAsync(extraArgs: ["--runtime", "docker", "--image-archive", archive]);
        var netns = "";
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes --no-headers")).Stdout.Contains(" Ready ", StringComparison.Ordinal), 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"the docker node registers:\n{orch.Output}");
            netns = NamespaceLine().Match(orch.Output).Groups[1].Value;
            netns.Should().NotBeEmpty(orch.Output);
            const string manifest = """
                apiVersion: v1
                kind: Pod
                metadata: {name: pair}
                spec:
                  containers:
                  - name: web
                    image: busybox
                    command: ["sh", "-c", "echo serving; echo hello from the pair > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
                    readinessProbe:
                      httpGet: {path: /, port: 80}
                      periodSeconds: 1
                  - name: client
                    image: busybox
                    command: ["sh", "-c", "sleep 1; wget -q -O - http://127.0.0.1/; sleep 3600"]
                """;
            (await kubectl.RunAsync(["apply", "-f", "-"], manifest)).ExitCode.Should().Be(0);
            var ready = await kubectl.RunAsync(["wait", "--for=condition=Ready", "pod/pair", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            ready.ExitCode.Should().Be(0, $"{ready}\n{orch.Output}");

            var pod = JsonDocument.Parse((await kubectl.RunAsync("get pod pair -o json")).Stdout).RootElement;
            pod.GetProperty("status").GetProperty("podIP").GetString().Should().StartWith("10.244.");
            (await kubectl.RunAsync("get node -o jsonpath={.items[0].status.nodeInfo.containerRuntimeVersion}")).Stdout.Should().StartWith("docker://");
            (await kubectl.RunAsync("logs pair -c web")).Stdout.Should().Be("serving\n");
            var clientLog = await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("logs pair -c client")).Stdout == "hello from the pair\n", 100, TimeSpan.FromMilliseconds(100));
            clientLog.Should().BeTrue("the client reached the web container on the pod's localhost");

            (await kubectl.RunAsync("delete pod pair --grace-period=1")).ExitCode.Should().Be(0);
            var socket = Path.Combine(orch.DataDir, "docker", "docker.sock");
            var empty = await Eventually.HoldsAsync(async () => (await RunAsync("docker", "-H", $"unix://{socket}", "ps", "-aq", "--filter", "label=io.orchestration.kind")).Trim().Length == 0, 150, TimeSpan.FromMilliseconds(200));
            empty.Should().BeTrue("deleting the pod removes its containers and sandbox");
        }
        finally
        {
            (await orch.StopAsync()).Should().Be(0);
            (await RunAsync("ip", "netns", "list")).Should().NotContain(netns.Length > 0 ? netns : "orch-none", "stopping orch removes the namespace it made");
            (await File.ReadAllTextAsync("/proc/self/mountinfo")).Should().NotContain(orch.DataDir);
            Directory.Delete(orch.DataDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_pod_keeps_running_when_orch_is_killed_and_the_next_orch_adopts_it_without_a_restart()
    {
        var archive = await ImageArchive.PathAsync();
        var dataDir = Directory.CreateTempSubdirectory("orch-e2e-").FullName;
        string[] args = ["--runtime", "docker", "--image-archive", archive];
        var first = await OrchProcess.StartAsync(dataDir, null, args);
        OrchProcess? second = null;
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], first.Kubeconfig);
            (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes --no-headers")).Stdout.Contains(" Ready ", StringComparison.Ordinal), 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"the docker node registers:\n{first.Output}");
            (await kubectl.RunAsync(["run", "keep", "--image=busybox", "--image-pull-policy=Never", "--", "sh", "-c", "echo started; sleep 3600"])).ExitCode.Should().Be(0);
            var ready = await kubectl.RunAsync(["wait", "--for=condition=Ready", "pod/keep", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            ready.ExitCode.Should().Be(0, $"{ready}\n{first.Output}");
            var before = (await kubectl.RunAsync("get pod keep -o jsonpath={.status.containerStatuses[0].containerID}")).Stdout;

            await first.KillAsync();
            second = await OrchProcess.StartAsync(dataDir, first.Port, args);

            (await Eventually.HoldsAsync(async () => second.Output.Contains("is adopted with its containers", StringComparison.Ordinal), 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"the second orch adopts the running dockerd:\n{second.Output}");
            var again = await kubectl.RunAsync(["wait", "--for=condition=Ready", "pod/keep", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            again.ExitCode.Should().Be(0, $"{again}\n{second.Output}");
            (await kubectl.RunAsync("get pod keep -o jsonpath={.status.containerStatuses[0].containerID}")).Stdout.Should().Be(before, "the same container runs on");
            (await kubectl.RunAsync("get pod keep -o jsonpath={.status.containerStatuses[0].restartCount}")).Stdout.Should().Be("0");
            (await kubectl.RunAsync("logs keep")).Stdout.Should().Be("started\n");
        }
        finally
        {
            if (second is not null)
            {
                (await second.StopAsync()).Should().Be(0);
                await second.DisposeAsync();
            }

            await first.DisposeAsync();
            (await File.ReadAllTextAsync("/proc/self/mountinfo")).Should().NotContain(dataDir);
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [GeneratedRegex(@"network namespace (orch-[0-9a-f]+)")]
    private static partial Regex NamespaceLine();

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return output;
    }
}
