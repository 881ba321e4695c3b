using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Orchestration.Testing;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary><c>orch up --runtime containerd</c>: one node running real containers in containerd, driven by the real kubectl.</summary>
[Trait("Category", "E2E")]
public sealed partial class ContainerdClusterTests
{
    [Fact]
    public async Task An_httpd_deployment_runs_in_containerd_each_pod_serves_on_its_own_ip_and_delete_leaves_no_container()
    {
        var archive = await ImageArchive.PathAsync();
        await using var orch = await OrchProcess.StartAsync(extraArgs: ["--runtime", "containerd", "--image-archive", archive]);
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            (await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes --no-headers")).Stdout.Contains(" Ready ", StringComparison.Ordinal), 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"the containerd node registers:\n{orch.Output}");
            const string manifest = """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: httpd}
                spec:
                  replicas: 2
                  selector: {matchLabels: {app: httpd}}
                  template:
                    metadata: {labels: {app: httpd}}
                    spec:
                      containers:
                      - name: httpd
                        image: docker.io/library/busybox:latest
                        command: ["sh", "-c", "echo hello from $(hostname) > /tmp/index.html; httpd -f -p 80 -h /tmp"]
                """;
            (await kubectl.RunAsync(["apply", "-f", "-"], manifest)).ExitCode.Should().Be(0);
            var rollout = await kubectl.RunAsync(["rollout", "status", "deployment/httpd", "--timeout=90s"], timeout: TimeSpan.FromSeconds(100));
            rollout.ExitCode.Should().Be(0, $"{rollout}\n{orch.Output}");

            var pods = JsonDocument.Parse((await kubectl.RunAsync(["get", "pods", "-l", "app=httpd", "-o", "json"])).Stdout).RootElement.GetProperty("items").EnumerateArray()
                .Select(p => (Name: p.GetProperty("metadata").GetProperty("name").GetString()!, Ip: p.GetProperty("status").GetProperty("podIP").GetString()!))
                .ToList();
            pods.Should().HaveCount(2);
            pods.Select(p => p.Ip).Should().OnlyHaveUniqueItems().And.AllSatisfy(ip => ip.Should().StartWith("10.244."));

            // The pod network lives in the namespace orch made for its containerd: ask from there.
            var netns = NamespaceLine().Match(orch.Output).Groups[1].Value;
            netns.Should().NotBeEmpty(orch.Output);
            foreach (var (name, ip) in pods)
            {
                var answer = await RunAsync("nsenter", $"--net=/var/run/netns/{netns}", "curl", "-s", "--max-time", "5", $"http://{ip}/");
                answer.Should().Be($"hello from {name}\n", "each pod serves its own page on its own IP");
            }

            (await kubectl.RunAsync("delete deployment httpd")).ExitCode.Should().Be(0);
            var socket = Path.Combine(orch.DataDir, "containerd", "containerd.sock");
            var empty = await Eventually.HoldsAsync(async () => (await RunAsync("ctr", "-a", socket, "-n", "k8s.io", "containers", "ls", "-q")).Trim().Length == 0, 150, TimeSpan.FromMilliseconds(200));
            empty.Should().BeTrue("deleting the Deployment removes every container");
        }
        finally
        {
            (await orch.StopAsync()).Should().Be(0);
            var left = await RunAsync("ip", "netns", "list");
            left.Should().NotContain(NamespaceLine().Match(orch.Output).Groups[1].Value is { Length: > 0 } ns ? ns : "orch-none", "stopping orch removes the namespace it made");
            Directory.Delete(orch.DataDir, recursive: true);
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
