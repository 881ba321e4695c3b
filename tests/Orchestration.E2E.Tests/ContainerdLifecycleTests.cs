using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Containerd;
using Orchestration.Testing;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// The containerd node through restarts and outages, driven by the real kubectl: orch killed and
/// started again adopts the running pods; a graceful stop leaves nothing running; a containerd that
/// dies makes the node NotReady with kubelet's reason while the API serves on, and Ready again when
/// containerd is back.
/// </summary>
[Trait("Category", "E2E")]
public sealed class ContainerdLifecycleTests
{
    private const string Sleeper = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: sleeper}
        spec:
          replicas: 2
          selector: {matchLabels: {app: sleeper}}
          template:
            metadata: {labels: {app: sleeper}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: sleep
                image: busybox
                command: ["sleep", "3600"]
        """;

    [Fact]
    public async Task After_orch_is_killed_a_restart_adopts_the_running_pods_without_restarting_them_and_a_graceful_stop_leaves_nothing_running()
    {
        var archive = await ImageArchive.PathAsync();
        var dataDir = Directory.CreateTempSubdirectory("orch-adopt-").FullName;
        var containerdDir = Path.Combine(dataDir, "containerd");
        var socket = Path.Combine(containerdDir, "containerd.sock");
        string[] args = ["--runtime", "containerd", "--image-archive", archive];
        var first = await OrchProcess.StartAsync(dataDir, null, args);
        OrchProcess? second = null;
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], first.Kubeconfig);
            (await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30))).Status.Should().Be("True", first.Output);
            (await kubectl.RunAsync(["apply", "-f", "-"], Sleeper)).ExitCode.Should().Be(0);
            var rollout = await kubectl.RunAsync(["rollout", "status", "deployment/sleeper", "--timeout=90s"], timeout: TimeSpan.FromSeconds(100));
            rollout.ExitCode.Should().Be(0, $"{rollout}\n{first.Output}");
            var before = await PodsAsync(kubectl);
            before.Should().HaveCount(2).And.OnlyContain(p => p.Phase == "Running" && p.Restarts == 0 && p.ContainerId.StartsWith("containerd://", StringComparison.Ordinal));
            var containerdPid = int.Parse(File.ReadAllText(Path.Combine(containerdDir, "containerd.pid")), CultureInfo.InvariantCulture);
            var netns = File.ReadAllText(Path.Combine(containerdDir, "netns")).Trim();
            var shims = HostProcesses.Shims(socket);
            var containerProcesses = HostProcesses.ChildrenOf(shims);
            var podNamespaces = await HostProcesses.NamespacesOfAsync(containerProcesses);
            var runtimeContainers = await CtrContainersAsync(socket);
            containerProcesses.Should().HaveCount(4, "two pods, each a sandbox and a container");
            podNamespaces.Should().HaveCount(2).And.NotContain(netns);

            await first.KillAsync();
            var killedAt = DateTime.UtcNow.AddSeconds(-1);
            HostProcesses.IsRunning(containerdPid).Should().BeTrue("containerd outlives a killed orch");
            containerProcesses.Should().OnlyContain(pid => HostProcesses.IsRunning(pid), "and so do the containers");

            second = await OrchProcess.StartAsync(dataDir, first.Port, args);
            second.Output.Should().Contain($"containerd (pid {containerdPid}) of the previous run is adopted");
            var registered = await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30), c => c.HeartbeatAt >= killedAt);
            registered.HeartbeatAt.Should().BeOnOrAfter(killedAt, $"the restarted node agent registers its node\n{second.Output}");

            // The new agent has synced its pods within a few relists: nothing may have been started again.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var after = await PodsAsync(kubectl);
            after.Should().BeEquivalentTo(before, "the same containers run on, adopted: same ids, same start times, no restart");
            (await CtrContainersAsync(socket)).Should().Equal(runtimeContainers, "no sandbox or container was created or removed");
            HostProcesses.IsRunning(containerdPid).Should().BeTrue("the running containerd was adopted, not replaced");

            // The adopting agent manages those pods: deleting one stops its container and the pod goes.
            var deleted = await kubectl.RunAsync(["delete", "pod", before[0].Name, "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            deleted.ExitCode.Should().Be(0, $"{deleted}\n{second.Output}");
            var victim = before[0].ContainerId["containerd://".Length..];
            (await Eventually.HoldsAsync(async () => !(await CtrContainersAsync(socket)).Contains(victim), 50, TimeSpan.FromMilliseconds(200)))
                .Should().BeTrue("the agent removes the deleted pod's adopted container from containerd");
            var replaced = await kubectl.RunAsync(["rollout", "status", "deployment/sleeper", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            replaced.ExitCode.Should().Be(0, replaced.ToString());

            (await second.StopAsync()).Should().Be(0, "SIGINT stops orch cleanly");
            second.Output.Should().Contain("orch: stopped");
            HostProcesses.IsRunning(containerdPid).Should().BeFalse("a graceful stop stops the adopted containerd");
            HostProcesses.Shims(socket).Should().BeEmpty("and its shims");
            containerProcesses.Where(HostProcesses.IsRunning).Should().BeEmpty("and the containers that ran since before the restart");
            File.Exists($"/var/run/netns/{netns}").Should().BeFalse("and deletes containerd's network namespace");
            podNamespaces.Should().NotContain(name => File.Exists($"/var/run/netns/{name}"), "and the pods'");
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            await first.DisposeAsync();
            DeleteQuietly(dataDir);
        }
    }

    [Fact]
    public async Task When_containerd_is_killed_the_node_is_NotReady_with_the_reason_the_api_serves_on_and_the_node_is_Ready_when_containerd_is_back()
    {
        var dir = Directory.CreateTempSubdirectory("orch-rtdown-").FullName;
        var hostOptions = new ContainerdHostOptions { DataDirectory = Path.Combine(dir, "containerd"), DeleteDataOnDispose = true };
        hostOptions.ImageArchives.Add(await ImageArchive.PathAsync());

        // The test runs containerd itself, as a supervisor (systemd) would beside kubelet.
        var host = await ContainerdHost.StartAsync(Options.Create(hostOptions));
        ContainerdHost? restarted = null;
        OrchProcess? orch = null;
        try
        {
            orch = await OrchProcess.StartAsync(Path.Combine(dir, "orch"), null, "--runtime", "containerd", "--containerd-socket", host.SocketPath);
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            (await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30))).Status.Should().Be("True", orch.Output);

            await HostProcesses.RunAsync("kill", "-KILL", host.ProcessId!.Value.ToString(CultureInfo.InvariantCulture));
            var down = await WaitForReadyAsync(kubectl, "False", TimeSpan.FromSeconds(30));
            var table = await kubectl.RunAsync("get nodes --no-headers");
            var pods = await kubectl.RunAsync("get pods -A");
            var renewed = await LeaseRenewedAsync(kubectl, TimeSpan.FromSeconds(25));
            var stillDown = await WaitForReadyAsync(kubectl, "False", TimeSpan.FromSeconds(1));

            down.Status.Should().Be("False", orch.Output);
            down.Reason.Should().Be("KubeletNotReady");
            down.Message.Should().StartWith("container runtime is down").And.Contain(host.SocketPath);
            table.Stdout.Should().Contain(" NotReady ");
            pods.ExitCode.Should().Be(0, "the API server keeps serving while the node's runtime is down");
            renewed.Should().BeTrue("the node keeps heartbeating its Lease while its runtime is down");
            stillDown.Status.Should().Be("False");
            orch.Output.Should().Contain("is NotReady: container runtime is down", "the agent logs the outage");

            // containerd comes back (a new one on the same socket, after the dead one's leftovers are removed).
            await host.DetachAsync();
            restarted = await ContainerdHost.StartAsync(Options.Create(hostOptions));
            var back = await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30));

            back.Status.Should().Be("True", orch.Output);
            back.Reason.Should().Be("KubeletReady");
            orch.Output.Should().Contain("is Ready: its container runtime answers");
        }
        finally
        {
            if (orch is not null)
            {
                await orch.DisposeAsync();
            }

            if (restarted is not null)
            {
                await restarted.DisposeAsync();
            }

            await host.DisposeAsync();
            DeleteQuietly(dir);
        }
    }

    [Fact]
    public async Task Orch_up_whose_containerd_node_cannot_start_exits_1_with_the_reason_and_the_runtimes_that_need_no_containerd()
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-nonode-").FullName;
        try
        {
            var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "orch.dll"), "up", "--data-dir", dataDir, "--port", FreePorts.Next().ToString(CultureInfo.InvariantCulture), "--image-archive", "/nonexistent/busybox-oci.tar" })
            {
                start.ArgumentList.Add(arg);
            }

            using var process = System.Diagnostics.Process.Start(start)!;
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var stdout = process.StandardOutput.ReadToEndAsync(limit.Token);
            var stderr = await process.StandardError.ReadToEndAsync(limit.Token);
            await process.WaitForExitAsync(limit.Token);

            process.ExitCode.Should().Be(1, await stdout + stderr);
            stderr.Should().Contain("orch: the containerd node could not start: The image tarball /nonexistent/busybox-oci.tar does not exist")
                .And.Contain("--runtime simulated").And.Contain("--runtime none");
            (await stdout).Should().NotContain("serving at", "a cluster whose node cannot run does not start serving");
        }
        finally
        {
            DeleteQuietly(dataDir);
        }
    }

    private static async Task<List<PodView>> PodsAsync(Kubectl kubectl)
    {
        var result = await kubectl.RunAsync(["get", "pods", "-l", "app=sleeper", "-o", "json"]);
        result.ExitCode.Should().Be(0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("items").EnumerateArray()
            .Select(p =>
            {
                var status = p.TryGetProperty("status", out var s) ? s : default;
                var container = status.ValueKind == JsonValueKind.Object && status.TryGetProperty("containerStatuses", out var list) ? list[0] : default;
                var known = container.ValueKind == JsonValueKind.Object;
                return new PodView(
                    Text(p.GetProperty("metadata"), "name"),
                    status.ValueKind == JsonValueKind.Object ? Text(status, "phase") : "",
                    known ? Text(container, "containerID") : "",
                    known && container.TryGetProperty("state", out var state) && state.TryGetProperty("running", out var running) ? Text(running, "startedAt") : "",
                    known && container.TryGetProperty("restartCount", out var restarts) ? restarts.GetInt32() : -1);
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ToList();
    }

    // The ids of every container (sandboxes too) the containerd holds, as ctr lists them.
    private static async Task<List<string>> CtrContainersAsync(string socket) =>
        (await HostProcesses.RunAsync("ctr", "-a", socket, "-n", "k8s.io", "containers", "ls", "-q"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Order(StringComparer.Ordinal)
            .ToList();

    // The single node's Ready condition, once it has the status (and passes the check), or the last one seen.
    private static async Task<ReadyCondition> WaitForReadyAsync(Kubectl kubectl, string status, TimeSpan within, Func<ReadyCondition, bool>? also = null)
    {
        var last = new ReadyCondition("none", "", "", DateTime.MinValue);
        var deadline = DateTime.UtcNow + within;
        do
        {
            var result = await kubectl.RunAsync(["get", "nodes", "-o", "json"]);
            var node = result.ExitCode == 0 ? JsonDocument.Parse(result.Stdout).RootElement.GetProperty("items").EnumerateArray().FirstOrDefault() : default;
            // A node just created has no status yet; its agent writes it right after.
            if (node.ValueKind == JsonValueKind.Object
                && node.TryGetProperty("status", out var nodeStatus)
                && nodeStatus.TryGetProperty("conditions", out var conditions)
                && conditions.EnumerateArray().FirstOrDefault(c => Text(c, "type") == "Ready") is { ValueKind: JsonValueKind.Object } ready)
            {
                last = new ReadyCondition(
                    Text(ready, "status"),
                    Text(ready, "reason"),
                    Text(ready, "message"),
                    ready.TryGetProperty("lastHeartbeatTime", out var heartbeat) ? heartbeat.GetDateTime().ToUniversalTime() : DateTime.MinValue);
                if (last.Status == status && (also is null || also(last)))
                {
                    return last;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }
        while (DateTime.UtcNow < deadline);
        return last;
    }

    private static string Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";

    // Whether the node's Lease is renewed again within the time.
    private static async Task<bool> LeaseRenewedAsync(Kubectl kubectl, TimeSpan within)
    {
        async Task<string> RenewTimeAsync() => (await kubectl.RunAsync(["get", "leases", "-n", "kube-node-lease", "-o", "jsonpath={.items[0].spec.renewTime}"])).Stdout;
        var first = await RenewTimeAsync();
        first.Should().NotBeEmpty();
        return await Eventually.HoldsAsync(async () => await RenewTimeAsync() != first, (int)(within.TotalMilliseconds / 500), TimeSpan.FromMilliseconds(500));
    }

    // Cleanup after the assertions: a failure here must not hide the test's own.
    private static void DeleteQuietly(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed record PodView(string Name, string Phase, string ContainerId, string StartedAt, int Restarts);

    private sealed record ReadyCondition(string Status, string Reason, string Message, DateTime HeartbeatAt);
}
