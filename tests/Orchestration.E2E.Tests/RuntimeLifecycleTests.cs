using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Containerd;
using Orchestration.Runtime.Linux.Daemons;
using Orchestration.Runtime.Docker;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// A real node through restarts and outages, driven by the real kubectl: its pods serve on their own
/// IPs; orch killed and started again adopts them; deleting them leaves no container; a graceful stop
/// leaves nothing running; a runtime daemon that dies makes the node NotReady with kubelet's reason
/// and tainted not-ready while the API serves on, and Ready and untainted when it is back; a node that cannot start fails
/// <c>orch up</c>. One definition for every real runtime; each runtime's class says how to look
/// behind the node agent's back.
/// </summary>
public abstract class RuntimeLifecycleTests
{
    private const string Web = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: httpd
                image: busybox
                command: ["sh", "-c", "echo hello from $(hostname) > /tmp/index.html; exec httpd -f -p 80 -h /tmp"]
                readinessProbe:
                  httpGet: {path: /, port: 80}
                  periodSeconds: 1
        """;

    /// <summary>The <c>--runtime</c> value, the node's directory under the data dir, and the container id scheme.</summary>
    protected abstract string Runtime { get; }

    /// <summary>The daemon's name in orch's messages.</summary>
    protected abstract string Daemon { get; }

    /// <summary>The file under the node's directory that holds the daemon's PID.</summary>
    protected abstract string PidFile { get; }

    /// <summary>The daemon's socket under the node's directory.</summary>
    protected abstract string SocketFile { get; }

    /// <summary>Starts the runtime's daemon as a supervisor (systemd) would beside kubelet.</summary>
    protected abstract Task<IDaemonHost> StartDaemonAsync(string dataDirectory, string networkNamespace, string imageArchive);

    /// <summary>Whether each pod's network namespace is a named one (<c>ip netns</c>, as CNI makes them) rather than the daemon's own bind mount.</summary>
    protected abstract bool NamedPodNamespaces { get; }

    /// <summary>The ids of every container (sandboxes too) the daemon holds, asked with its own client.</summary>
    protected abstract Task<List<string>> ContainersAsync(string socket);

    [Fact]
    public async Task Pods_serve_on_their_ips_survive_orch_being_killed_are_adopted_deleting_them_leaves_no_container_and_a_graceful_stop_leaves_nothing()
    {
        var archive = await ImageArchive.PathAsync();
        var dataDir = Directory.CreateTempSubdirectory("orch-adopt-").FullName;
        var nodeDir = Path.Combine(dataDir, Runtime);
        var socket = Path.Combine(nodeDir, SocketFile);
        string[] args = ["--runtime", Runtime, "--image-archive", archive];
        var first = await OrchProcess.StartAsync(dataDir, null, args);
        OrchProcess? second = null;
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], first.Kubeconfig);
            (await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30))).Status.Should().Be("True", first.Output);
            (await kubectl.RunAsync(["apply", "-f", "-"], Web)).ExitCode.Should().Be(0);
            var rollout = await kubectl.RunAsync(["rollout", "status", "deployment/web", "--timeout=90s"], timeout: TimeSpan.FromSeconds(100));
            rollout.ExitCode.Should().Be(0, $"{rollout}\n{first.Output}");
            var before = await PodsAsync(kubectl);
            before.Should().HaveCount(2).And.OnlyContain(p => p.Phase == "Running" && p.Restarts == 0 && p.ContainerId.StartsWith(Runtime + "://", StringComparison.Ordinal));
            before.Select(p => p.Ip).Should().OnlyHaveUniqueItems().And.AllSatisfy(ip => ip.Should().StartWith("10.244."));
            var netns = File.ReadAllText(Path.Combine(nodeDir, "netns")).Trim();
            await ServeTheirOwnPagesAsync(netns, before);

            var daemonPid = int.Parse(File.ReadAllText(Path.Combine(nodeDir, PidFile)), CultureInfo.InvariantCulture);
            var containerProcesses = HostProcesses.ChildrenOf(HostProcesses.Shims(nodeDir));
            var runtimeContainers = await ContainersAsync(socket);
            var namedPodNamespaces = (await HostProcesses.NamedNamespacesOfAsync(containerProcesses)).Where(n => n != netns).ToList();
            containerProcesses.Should().HaveCount(4, "two pods, each a sandbox and a container");
            namedPodNamespaces.Should().HaveCount(NamedPodNamespaces ? 2 : 0, "the pods' namespaces are named where the runtime names them");
            containerProcesses.Select(HostProcesses.NetworkNamespaceOf).Distinct().Should().HaveCount(2, "each pod has a network namespace of its own")
                .And.NotContain(HostProcesses.NetworkNamespaceOf(daemonPid), "apart from the daemon's");

            // A connection through a Service's cluster IP, opened before the kill, must outlive it: the
            // translation lives in conntrack and the next proxy takes the table over without dropping it.
            (await kubectl.RunAsync(["expose", "deployment", "web", "--port=8080", "--target-port=80"])).ExitCode.Should().Be(0);
            var serviceIp = (await kubectl.RunAsync(["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"])).Stdout.Trim();
            await RouteServicesFromTheNodeAsync(netns);
            using var sockets = new Orchestration.Runtime.Linux.Networking.NamespaceSockets(NetworkNamespaces.PathOf(netns));
            System.Net.Sockets.Socket? held = null;
            (await Eventually.HoldsAsync(
                async () =>
                {
                    var socket = await sockets.CreateAsync(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    try
                    {
                        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                        await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(serviceIp), 8080), deadline.Token);
                        held = socket;
                        return true;
                    }
                    catch (Exception ex) when (ex is System.Net.Sockets.SocketException or OperationCanceledException)
                    {
                        socket.Dispose();
                        return false;
                    }
                },
                100,
                TimeSpan.FromMilliseconds(200))).Should().BeTrue($"the Service's cluster IP is served\n{first.Output}");
            using var connection = held!;

            await first.KillAsync();
            var killedAt = DateTime.UtcNow.AddSeconds(-1);
            HostProcesses.IsRunning(daemonPid).Should().BeTrue($"{Daemon} outlives a killed orch");
            containerProcesses.Should().OnlyContain(pid => HostProcesses.IsRunning(pid), "and so do the containers");

            second = await OrchProcess.StartAsync(dataDir, first.Port, args);
            second.Output.Should().Contain($"{Daemon} (pid {daemonPid}) of the previous run is adopted");
            var registered = await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30), c => c.HeartbeatAt >= killedAt);
            registered.HeartbeatAt.Should().BeOnOrAfter(killedAt, $"the restarted node agent registers its node\n{second.Output}");

            // The positive signal: the new agent has synced every pod it found; had it not adopted them, it would have started them again.
            (await Eventually.HoldsAsync(() => Task.FromResult(second.Output.Contains("synced the 2 pods bound to it at start", StringComparison.Ordinal)), 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"the restarted node agent syncs the pods it finds\n{second.Output}");

            // A restarted agent reports readiness afresh, as kubelet does: the pods are Ready again once their probes pass.
            await Eventually.HoldsAsync(async () => (await PodsAsync(kubectl)).All(p => p.Ready), 300, TimeSpan.FromMilliseconds(100));
            (await PodsAsync(kubectl)).Should().BeEquivalentTo(before, "the same containers run on, adopted: same ids, same start times, no restart");

            // The new proxy has replaced the whole table; the connection opened before the kill still answers.
            (await Eventually.HoldsAsync(() => Task.FromResult(second.Output.Contains("nftables proxy wrote ", StringComparison.Ordinal)), 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"the restarted proxy syncs\n{second.Output}");
            await connection.SendAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
            var answer = new System.Text.StringBuilder();
            var buffer = new byte[1024];
            using (var reading = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                int read;
                while ((read = await connection.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, reading.Token)) > 0)
                {
                    answer.Append(System.Text.Encoding.ASCII.GetString(buffer, 0, read));
                }
            }

            answer.ToString().Should().StartWith("HTTP/1.").And.Contain("hello from web-", "the connection made before orch was killed still reaches its pod");
            (await ContainersAsync(socket)).Should().Equal(runtimeContainers, "no sandbox or container was created or removed");
            HostProcesses.IsRunning(daemonPid).Should().BeTrue($"the running {Daemon} was adopted, not replaced");
            await ServeTheirOwnPagesAsync(netns, before);

            // The adopting agent manages those pods: deleting one removes its container and the pod goes.
            var deleted = await kubectl.RunAsync(["delete", "pod", before[0].Name, "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            deleted.ExitCode.Should().Be(0, $"{deleted}\n{second.Output}");
            var victim = before[0].ContainerId[(Runtime.Length + 3)..];
            (await Eventually.HoldsAsync(async () => !(await ContainersAsync(socket)).Contains(victim), 50, TimeSpan.FromMilliseconds(200)))
                .Should().BeTrue($"the agent removes the deleted pod's adopted container from {Daemon}");
            var replaced = await kubectl.RunAsync(["rollout", "status", "deployment/web", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            replaced.ExitCode.Should().Be(0, replaced.ToString());

            (await kubectl.RunAsync(["delete", "deployment", "web", "--wait=true", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70))).ExitCode.Should().Be(0);
            (await Eventually.HoldsAsync(async () => (await ContainersAsync(socket)).Count == 0, 100, TimeSpan.FromMilliseconds(200)))
                .Should().BeTrue($"deleting the Deployment leaves no container or sandbox in {Daemon}: {string.Join(", ", await ContainersAsync(socket))}");
            (await Eventually.HoldsAsync(() => Task.FromResult(HostProcesses.ChildrenOf(HostProcesses.Shims(nodeDir)).Count == 0), 50, TimeSpan.FromMilliseconds(200)))
                .Should().BeTrue("and no container process");

            // A process of the test's own holds the node's namespace, so that it outlives orch's stop:
            // what orch put into it besides its daemon (nft tables, the DNS address) must be gone.
            using var holder = await NamespaceHolder.StartAsync(netns);
            (await holder.RunAsync("nft", "list", "tables")).Should().Contain("table ip orch-proxy", "the proxy's tables are there before the stop");
            (await second.StopAsync()).Should().Be(0, "SIGINT stops orch cleanly");
            second.Output.Should().Contain("orch: stopped");
            (await holder.RunAsync("nft", "list", "tables")).Should().NotContain("orch-proxy", $"a graceful stop removes every nft table the proxy created\n{second.Output}");
            (await holder.RunAsync("ip", "-o", "address", "show", "dev", "lo")).Should().NotContain("169.254.20.10", "and the cluster DNS's address");
            HostProcesses.IsRunning(daemonPid).Should().BeFalse($"a graceful stop stops the adopted {Daemon}");
            HostProcesses.Shims(nodeDir).Should().BeEmpty("and its shims");
            containerProcesses.Where(HostProcesses.IsRunning).Should().BeEmpty("and the containers that ran since before the restart");
            NetworkNamespaces.Exists(netns).Should().BeFalse($"and deletes {Daemon}'s network namespace");
            namedPodNamespaces.Should().NotContain(name => NetworkNamespaces.Exists(name), "and the pods'");
            (await File.ReadAllTextAsync("/proc/self/mountinfo")).Should().NotContain(dataDir, "and unmounts everything under its data directory");
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            await first.DisposeAsync();
            await StopLeftDaemonAsync(nodeDir, archive, second);
            DeleteQuietly(dataDir);
        }
    }

    [Fact]
    public async Task When_orchs_own_runtime_daemon_dies_orch_starts_it_again_in_the_same_namespace_and_the_pods_run_probe_and_serve_again()
    {
        var archive = await ImageArchive.PathAsync();
        var dataDir = Directory.CreateTempSubdirectory("orch-restart-").FullName;
        var nodeDir = Path.Combine(dataDir, Runtime);
        await using var orch = await OrchProcess.StartAsync(dataDir, null, "--runtime", Runtime, "--image-archive", archive);
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            (await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30))).Status.Should().Be("True", orch.Output);
            (await kubectl.RunAsync(["apply", "-f", "-"], Web)).ExitCode.Should().Be(0);
            var rollout = await kubectl.RunAsync(["rollout", "status", "deployment/web", "--timeout=90s"], timeout: TimeSpan.FromSeconds(100));
            rollout.ExitCode.Should().Be(0, $"{rollout}\n{orch.Output}");
            var before = await PodsAsync(kubectl);
            var netns = File.ReadAllText(Path.Combine(nodeDir, "netns")).Trim();
            var daemonPid = int.Parse(File.ReadAllText(Path.Combine(nodeDir, PidFile)), CultureInfo.InvariantCulture);

            await HostProcesses.RunAsync("kill", "-KILL", daemonPid.ToString(CultureInfo.InvariantCulture));

            (await Eventually.HoldsAsync(() => Task.FromResult(orch.Output.Contains($"{Daemon} had exited and was started again", StringComparison.Ordinal)), 300, TimeSpan.FromMilliseconds(100)))
                .Should().BeTrue($"orch starts its dead {Daemon} again, as systemd would:\n{orch.Output}");
            var after = new List<PodView>();
            var back = await Eventually.HoldsAsync(
                async () => (after = await PodsAsync(kubectl)).Count == 2 && after.All(p => p.Phase == "Running" && p.Ready && before.All(b => b.ContainerId != p.ContainerId)),
                300,
                TimeSpan.FromMilliseconds(200));
            back.Should().BeTrue($"the node agent starts the pods again in the new {Daemon} and their readiness probes pass: {string.Join(", ", after)}\n{orch.Output}");
            var newPid = int.Parse(File.ReadAllText(Path.Combine(nodeDir, PidFile)), CultureInfo.InvariantCulture);
            newPid.Should().NotBe(daemonPid);
            HostProcesses.IsRunning(newPid).Should().BeTrue();
            File.ReadAllText(Path.Combine(nodeDir, "netns")).Trim().Should().Be(netns, "the new daemon runs in the namespace of the old one");
            (await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30))).Status.Should().Be("True");
            await ServeTheirOwnPagesAsync(netns, after);

            (await orch.StopAsync()).Should().Be(0, "SIGINT stops orch cleanly");
            HostProcesses.IsRunning(newPid).Should().BeFalse($"and the restarted {Daemon}");
            HostProcesses.Shims(nodeDir).Should().BeEmpty("and its shims");
            NetworkNamespaces.Exists(netns).Should().BeFalse("and its network namespace");
            (await File.ReadAllTextAsync("/proc/self/mountinfo")).Should().NotContain(dataDir, "and every mount under its data directory");
        }
        finally
        {
            await orch.DisposeAsync();
            DeleteQuietly(dataDir);
        }
    }

    [Fact]
    public async Task A_worker_restarted_after_a_kill_removes_the_containers_of_a_pod_deleted_meanwhile_and_adopts_the_others()
    {
        var archive = await ImageArchive.PathAsync();
        await using var orch = await OrchProcess.StartAsync();
        var nodeDir = Directory.CreateTempSubdirectory("orch-worker-").FullName;
        var socket = Path.Combine(nodeDir, SocketFile);
        string[] args = ["--node-name", "worker", "--runtime", Runtime, "--image-archive", archive];
        var first = await OrchProcess.StartAgentAsync(orch.Kubeconfig, nodeDir, args);
        OrchProcess? second = null;
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            (await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30))).Status.Should().Be("True", first.Output);
            // sleep ignores SIGTERM: the deleted pod's container is stopped only when its grace period of 1 s runs out.
            foreach (var name in new[] { "keep", "gone" })
            {
                var pod = $$$"""
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: {{{name}}}, labels: {app: web}}
                    spec:
                      terminationGracePeriodSeconds: 1
                      containers: [{name: main, image: busybox, command: ["sleep", "3600"]}]
                    """;
                (await kubectl.RunAsync(["apply", "-f", "-"], pod)).ExitCode.Should().Be(0);
            }

            var ready = await kubectl.RunAsync(["wait", "--for=condition=Ready", "pod/keep", "pod/gone", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
            ready.ExitCode.Should().Be(0, $"{ready}\n{first.Output}");
            var before = (await PodsAsync(kubectl)).ToDictionary(p => p.Name);
            var goneContainer = before["gone"].ContainerId[(Runtime.Length + 3)..];
            var held = await ContainersAsync(socket);
            held.Should().HaveCount(4, "two pods, each a sandbox and a container").And.Contain(goneContainer);

            await first.KillAsync();
            var forced = await kubectl.RunAsync(["delete", "pod", "gone", "--force", "--grace-period=0"]);
            forced.ExitCode.Should().Be(0, forced.ToString());
            (await ContainersAsync(socket)).Should().Equal(held, "no agent runs to remove the deleted pod's containers");

            // While the agent is down, a table of another owner takes the proxy's main table's name in the
            // node's namespace: nftables refuses the restarted proxy's rules until that owner exits.
            var netns = File.ReadAllText(Path.Combine(nodeDir, "netns")).Trim();
            using var squatter = await NftTableSquatter.StartAsync(netns, "orch-proxy");

            second = await OrchProcess.StartAgentAsync(orch.Kubeconfig, nodeDir, args);
            second.Output.Should().Contain("of the previous run is adopted");
            var refused = await WaitForProxyConditionAsync(kubectl, "worker", "False");
            refused.Should().NotBeNull($"the node reports that nftables refused its proxy\n{second.Output}");
            (refused!.Value.Reason, refused.Value.Message).Should().Match<(string Reason, string Message)>(
                c => c.Reason == "ProxySyncFailed" && c.Message.Contains("nft refused the proxy's rules", StringComparison.Ordinal) && c.Message.Contains("Operation not permitted", StringComparison.Ordinal));
            var events = await kubectl.RunAsync(["get", "events", "-A", "--field-selector", "reason=ProxySyncFailed,involvedObject.kind=Node,involvedObject.name=worker", "-o", "jsonpath={.items[*].type}"]);
            events.Stdout.Should().Contain("Warning", $"a Warning event on the node says why\n{events}");
            (await squatter.RunAsync("nft", "list", "tables")).Should().Contain("table ip orch-proxy-0", "the refused transaction leaves the previous run's rules in place");
            squatter.Release();
            (await WaitForProxyConditionAsync(kubectl, "worker", "True")).Should().NotBeNull($"once nftables accepts the rules, the next retry succeeds and the node says so\n{second.Output}");
            (await HostProcesses.RunAsync("ip", "netns", "exec", netns, "nft", "list", "table", "ip", "orch-proxy")).Should().Contain("table ip orch-proxy").And.NotContain("flags owner", "the proxy's own table replaced the other owner's");
            (await Eventually.HoldsAsync(async () => (await ContainersAsync(socket)).Count == 2, 75, TimeSpan.FromMilliseconds(200)))
                .Should().BeTrue("the restarted agent removes the sandbox and container of the pod deleted while it was down, within the container's own grace period rather than the default 30 s");
            (await ContainersAsync(socket)).Should().NotContain(goneContainer).And.BeSubsetOf(held, "the kept pod's sandbox and container are adopted, not replaced");
            var after = await PodsAsync(kubectl);
            after.Should().ContainSingle().Which.Should().BeEquivalentTo(before["keep"], "the kept pod runs on: same container, same start, no restart");

            (await second.StopAsync()).Should().Be(0, second.Output);
            second.Output.Should().Contain("orch: worker stopped");
            (await File.ReadAllTextAsync("/proc/self/mountinfo")).Should().NotContain(nodeDir, "a stopped worker unmounts everything under its data directory");
        }
        finally
        {
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            await first.DisposeAsync();
            await StopLeftDaemonAsync(nodeDir, archive, second);
            await orch.DisposeAsync();
            DeleteQuietly(nodeDir);
            DeleteQuietly(orch.DataDir);
        }
    }

    [Fact]
    public async Task When_the_runtime_daemon_is_killed_the_node_is_NotReady_with_the_reason_and_tainted_the_api_serves_on_and_the_node_is_Ready_and_untainted_when_it_is_back()
    {
        var dir = Directory.CreateTempSubdirectory("orch-rtdown-").FullName;
        var daemonDir = Path.Combine(dir, Runtime);
        var netns = NetworkNamespaces.FreshName();
        var archive = await ImageArchive.PathAsync();
        var host = await StartDaemonAsync(daemonDir, netns, archive);
        IDaemonHost? restarted = null;
        OrchProcess? orch = null;
        try
        {
            orch = await OrchProcess.StartAsync(Path.Combine(dir, "orch"), null, "--runtime", Runtime, $"--{Runtime}-socket", host.SocketPath);
            var kubectl = new Kubectl(Kubectl.Versions[0], orch.Kubeconfig);
            (await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30))).Status.Should().Be("True", orch.Output);

            await HostProcesses.RunAsync("kill", "-KILL", host.ProcessId!.Value.ToString(CultureInfo.InvariantCulture));
            var down = await WaitForReadyAsync(kubectl, "False", TimeSpan.FromSeconds(30));
            var table = await kubectl.RunAsync("get nodes --no-headers");
            var pods = await kubectl.RunAsync("get pods -A");
            var renewed = await LeaseRenewedAsync(kubectl, TimeSpan.FromSeconds(25));
            var stillDown = await WaitForReadyAsync(kubectl, "False", TimeSpan.FromSeconds(1));
            var tainted = await Eventually.HoldsAsync(async () => await TaintsAsync(kubectl) == "node.kubernetes.io/not-ready:NoSchedule node.kubernetes.io/not-ready:NoExecute", 40, TimeSpan.FromMilliseconds(250));

            down.Status.Should().Be("False", orch.Output);
            down.Reason.Should().Be("KubeletNotReady");
            down.Message.Should().StartWith("container runtime is down").And.Contain(host.SocketPath);
            table.Stdout.Should().Contain(" NotReady ");
            pods.ExitCode.Should().Be(0, "the API server keeps serving while the node's runtime is down");
            renewed.Should().BeTrue("the node keeps heartbeating its Lease while its runtime is down");
            stillDown.Status.Should().Be("False");
            orch.Output.Should().Contain("is NotReady: container runtime is down", "the agent logs the outage");
            tainted.Should().BeTrue($"a node that reports NotReady is tainted not-ready, as kube-controller-manager does: {await TaintsAsync(kubectl)}");

            // The daemon comes back (a new one on the same socket, after the dead one's leftovers are removed).
            await host.DetachAsync();
            restarted = await StartDaemonAsync(daemonDir, netns, archive);
            var back = await WaitForReadyAsync(kubectl, "True", TimeSpan.FromSeconds(30));

            back.Status.Should().Be("True", orch.Output);
            back.Reason.Should().Be("KubeletReady");
            orch.Output.Should().Contain("is Ready: its container runtime answers");
            (await Eventually.HoldsAsync(async () => await TaintsAsync(kubectl) == "", 40, TimeSpan.FromMilliseconds(250)))
                .Should().BeTrue("the not-ready taint goes when the node is Ready again");
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
    public async Task Orch_up_whose_node_cannot_start_exits_1_with_the_reason_and_the_runtimes_that_need_no_daemon()
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-nonode-").FullName;
        try
        {
            var result = await OrchProcess.RunToExitAsync(TimeSpan.FromSeconds(60), "up", "--data-dir", dataDir, "--port", FreePorts.Next().ToString(CultureInfo.InvariantCulture), "--runtime", Runtime, "--image-archive", "/nonexistent/busybox-oci.tar");

            result.ExitCode.Should().Be(1, result.ToString());
            result.Stderr.Should().Contain($"orch: the {Runtime} node could not start: The image tarball /nonexistent/busybox-oci.tar does not exist")
                .And.Contain("--runtime simulated").And.Contain("--runtime none");
            result.Stdout.Should().NotContain("serving at", "a cluster whose node cannot run does not start serving");
        }
        finally
        {
            DeleteQuietly(dataDir);
        }
    }

    // A test that failed between killing orch and starting the next one leaves the daemon running
    // with its pods: a host adopts it and stops it with everything in it.
    private async Task StopLeftDaemonAsync(string nodeDir, string archive, OrchProcess? second)
    {
        var netns = Path.Combine(nodeDir, "netns");
        if (second is not null || !File.Exists(Path.Combine(nodeDir, PidFile)) || !File.Exists(netns))
        {
            return;
        }

        try
        {
            await using var leftover = await StartDaemonAsync(nodeDir, File.ReadAllText(netns).Trim(), archive);
        }
        catch (InvalidOperationException)
        {
            // Cleanup after a failure already reported: nothing more to do here.
        }
    }

    // Each pod answers on its own IP with its own page, asked from the daemon's namespace, where the pod network lives.
    private static async Task ServeTheirOwnPagesAsync(string netns, IEnumerable<PodView> pods)
    {
        foreach (var pod in pods)
        {
            var answer = await HostProcesses.RunAsync("nsenter", $"--net={NetworkNamespaces.PathOf(netns)}", "curl", "-s", "--max-time", "5", $"http://{pod.Ip}/");
            answer.Should().Be($"hello from {pod.Name}\n", "each pod serves its own page on its own IP");
        }
    }

    /// <summary>
    /// The node's namespace has no default route (a machine's would): the test gives the service
    /// network one over the pods' bridge, so that a connection from the node itself reaches cluster IPs.
    /// </summary>
    // The node's NetworkProxyReady condition once it has the status asked for (60 s at most), or null.
    private static async Task<(string Reason, string Message)?> WaitForProxyConditionAsync(Kubectl kubectl, string node, string status)
    {
        (string Reason, string Message)? seen = null;
        await Eventually.HoldsAsync(
            async () =>
            {
                var result = await kubectl.RunAsync(["get", "node", node, "-o", "jsonpath={range .status.conditions[?(@.type==\"NetworkProxyReady\")]}{.status}|{.reason}|{.message}{end}"]);
                var fields = result.Stdout.Split('|');
                seen = fields.Length == 3 && fields[0] == status ? (fields[1], fields[2]) : null;
                return seen is not null;
            },
            120,
            TimeSpan.FromMilliseconds(500));
        return seen;
    }

    private static async Task RouteServicesFromTheNodeAsync(string netns)
    {
        var (_, output) = await Orchestration.Runtime.Linux.ProcessRunner.RunAsync("ip", ["-n", netns, "-o", "-4", "address", "show"], CancellationToken.None);
        var bridge = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .First(f => f.Length > 3 && f[1] != "lo" && f[2] == "inet");
        await Orchestration.Runtime.Linux.ProcessRunner.RunCheckedAsync("ip", ["-n", netns, "route", "replace", "10.96.0.0/12", "dev", bridge[1], "src", bridge[3].Split('/')[0]], CancellationToken.None);
    }

    private static async Task<List<PodView>> PodsAsync(Kubectl kubectl)
    {
        var result = await kubectl.RunAsync(["get", "pods", "-l", "app=web", "-o", "json"]);
        result.ExitCode.Should().Be(0, result.ToString());
        return JsonDocument.Parse(result.Stdout).RootElement.GetProperty("items").EnumerateArray()
            .Select(p =>
            {
                var status = p.TryGetProperty("status", out var s) ? s : default;
                var known = status.ValueKind == JsonValueKind.Object;
                var container = known && status.TryGetProperty("containerStatuses", out var list) ? list[0] : default;
                var started = container.ValueKind == JsonValueKind.Object;
                return new PodView(
                    Text(p.GetProperty("metadata"), "name"),
                    known ? Text(status, "phase") : "",
                    known ? Text(status, "podIP") : "",
                    started ? Text(container, "containerID") : "",
                    started && container.TryGetProperty("state", out var state) && state.TryGetProperty("running", out var running) ? Text(running, "startedAt") : "",
                    started && container.TryGetProperty("restartCount", out var restarts) ? restarts.GetInt32() : -1,
                    known && status.TryGetProperty("conditions", out var conditions) && conditions.EnumerateArray().Any(c => Text(c, "type") == "Ready" && Text(c, "status") == "True"));
            })
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ToList();
    }

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

    // The single node's taints as key:effect, space-separated.
    private static async Task<string> TaintsAsync(Kubectl kubectl) =>
        (await kubectl.RunAsync(["get", "nodes", "-o", "jsonpath={range .items[0].spec.taints[*]}{.key}:{.effect} {end}"])).Stdout.Trim();

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
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private sealed record PodView(string Name, string Phase, string Ip, string ContainerId, string StartedAt, int Restarts, bool Ready);

    private sealed record ReadyCondition(string Status, string Reason, string Message, DateTime HeartbeatAt);
}

/// <summary>The shared lifecycle tests on <c>orch up --runtime containerd</c>.</summary>
[Trait("Category", "E2E")]
public sealed class ContainerdLifecycleTests : RuntimeLifecycleTests
{
    protected override string Runtime => "containerd";

    protected override string Daemon => "containerd";

    protected override string PidFile => "containerd.pid";

    protected override string SocketFile => "containerd.sock";

    protected override bool NamedPodNamespaces => true;

    protected override async Task<IDaemonHost> StartDaemonAsync(string dataDirectory, string networkNamespace, string imageArchive)
    {
        var options = new ContainerdHostOptions { DataDirectory = dataDirectory, NetworkNamespace = networkNamespace, DeleteDataOnDispose = true };
        options.ImageArchives.Add(imageArchive);
        return await ContainerdHost.StartAsync(Options.Create(options));
    }

    protected override async Task<List<string>> ContainersAsync(string socket) =>
        (await HostProcesses.RunAsync("ctr", "-a", socket, "-n", "k8s.io", "containers", "ls", "-q"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Order(StringComparer.Ordinal)
            .ToList();
}

/// <summary>The shared lifecycle tests on <c>orch up --runtime docker</c>.</summary>
[Trait("Category", "E2E")]
public sealed class DockerLifecycleTests : RuntimeLifecycleTests
{
    protected override string Runtime => "docker";

    protected override string Daemon => "dockerd";

    protected override string PidFile => "docker.pid";

    protected override string SocketFile => "docker.sock";

    protected override bool NamedPodNamespaces => false;

    protected override async Task<IDaemonHost> StartDaemonAsync(string dataDirectory, string networkNamespace, string imageArchive)
    {
        var options = new DockerHostOptions { DataDirectory = dataDirectory, NetworkNamespace = networkNamespace, DeleteDataOnDispose = true };
        options.ImageArchives.Add(imageArchive);
        return await DockerHost.StartAsync(Options.Create(options));
    }

    protected override async Task<List<string>> ContainersAsync(string socket) =>
        (await HostProcesses.RunAsync("docker", "-H", $"unix://{socket}", "ps", "-aq", "--no-trunc"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Order(StringComparer.Ordinal)
            .ToList();
}
