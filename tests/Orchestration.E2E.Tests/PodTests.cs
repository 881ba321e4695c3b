using System.Diagnostics;
using System.Text.Json;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// One <c>orch up</c> on a real runtime for the pod tests of <see cref="PodTests{TCluster}"/>, with
/// their pods created up front so that the slow ones (crash-loop back-off, probes) run their course
/// side by side. Each runtime says how orch starts it and how to look behind the node agent's back.
/// </summary>
public abstract class PodCluster : IAsyncLifetime
{
    /// <summary>The pods every test looks at, created once.</summary>
    private const string Pods = """
        apiVersion: v1
        kind: Pod
        metadata: {name: logger}
        spec:
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; sleep 1; echo to-stderr >&2; sleep 3600"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: counter}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "sleep 2; for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.5; done"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: two}
        spec:
          containers:
          - {name: first, image: busybox, command: ["sh", "-c", "echo i am first; sleep 3600"]}
          - {name: second, image: busybox, command: ["sh", "-c", "echo i am second; sleep 3600"]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web-a, labels: {app: web}}
        spec:
          containers:
          - name: httpd
            image: docker.io/library/busybox:latest
            command: ["sh", "-c", "mkdir -p /www; echo served by $(hostname) > /www/index.html; httpd -f -p 8080 -h /www"]
            ports: [{containerPort: 8080}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: web-b, labels: {app: web}}
        spec:
          containers:
          - name: httpd
            image: busybox:latest
            command: ["sh", "-c", "mkdir -p /www; echo served by $(hostname) > /www/index.html; httpd -f -p 8080 -h /www"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: pair}
        spec:
          containers:
          - name: web
            image: busybox
            command: ["sh", "-c", "echo hello from the pair > /tmp/index.html; exec httpd -f -p 8081 -h /tmp"]
            readinessProbe:
              httpGet: {path: /, port: 8081}
              periodSeconds: 1
          - name: client
            image: busybox
            command: ["sh", "-c", "until wget -q -O - http://127.0.0.1:8081/ 2>/dev/null; do sleep 0.2; done; sleep 3600"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: crasher}
        spec:
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "echo attempt at $(date +%s); exit 1"]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: liveness}
        spec:
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600"]
            livenessProbe:
              exec: {command: ["cat", "/tmp/healthy"]}
              periodSeconds: 1
              failureThreshold: 1
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: unready}
        spec:
          containers:
          - name: main
            image: busybox
            command: ["sleep", "3600"]
            readinessProbe:
              exec: {command: ["false"]}
              periodSeconds: 1
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: hungry}
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "x=$(yes | head -c 100000000); echo survived"]
            resources: {limits: {memory: 20Mi}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: pull-image}
        spec:
          containers:
          - name: main
            image: orchestration.local/not-here:2
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: missing-image}
        spec:
          containers:
          - name: main
            image: orchestration.local/not-here:1
            imagePullPolicy: Never
        """;

    private OrchProcess? _orch;

    /// <summary>The cluster's process.</summary>
    public OrchProcess Orch => _orch ?? throw new InvalidOperationException("not started");

    /// <summary>The machine's kubectl against the cluster.</summary>
    public Kubectl Kubectl { get; private set; } = null!;

    /// <summary>A kubectl of a given path against the cluster.</summary>
    public Kubectl KubectlOf(string binary) => new(binary, Orch.Kubeconfig);

    /// <summary>The runtime's name in container IDs (<c>containerd://...</c>).</summary>
    public abstract string RuntimeName { get; }

    /// <summary>The <c>orch up</c> arguments that choose the runtime.</summary>
    protected abstract string[] RuntimeArguments(string imageArchive);

    /// <summary>Whether the runtime no longer holds the container, asked of the runtime itself.</summary>
    public abstract Task<bool> ContainerGoneAsync(string containerId);

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var archive = await ImageArchive.PathAsync();
        _orch = await OrchProcess.StartAsync(extraArgs: RuntimeArguments(archive));
        Kubectl = new Kubectl(Kubectl.Versions[0], _orch.Kubeconfig);
        (await Eventually.HoldsAsync(async () => (await Kubectl.RunAsync("get nodes --no-headers")).Stdout.Contains(" Ready ", StringComparison.Ordinal), 300, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue($"the containerd node registers:\n{_orch.Output}");
        var applied = await Kubectl.RunAsync(["apply", "-f", "-"], Pods);
        applied.ExitCode.Should().Be(0, applied.ToString());
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_orch is not null)
        {
            await _orch.StopAsync();
            await _orch.DisposeAsync();
            Directory.Delete(_orch.DataDir, recursive: true);
        }
    }

    /// <summary>Waits until the pod's JSON satisfies <paramref name="condition"/>, and returns it.</summary>
    public async Task<JsonElement> WaitForPodAsync(string name, Func<JsonElement, bool> condition, TimeSpan within, string because)
    {
        var deadline = DateTime.UtcNow + within;
        JsonElement pod = default;
        while (DateTime.UtcNow < deadline)
        {
            var got = await Kubectl.RunAsync(["get", "pod", name, "-o", "json"]);
            if (got.ExitCode == 0)
            {
                pod = JsonDocument.Parse(got.Stdout).RootElement.Clone();
                if (condition(pod))
                {
                    return pod;
                }
            }

            await Task.Delay(200);
        }

        throw new Xunit.Sdk.XunitException($"pod {name}: {because} within {within}; last seen:\n{pod}\n--- orch:\n{Orch.Output[^Math.Min(Orch.Output.Length, 4000)..]}");
    }

    /// <summary>Whether the pod's first container is running.</summary>
    public static bool Running(JsonElement pod) =>
        pod.GetProperty("status").TryGetProperty("containerStatuses", out var statuses) && statuses.EnumerateArray().All(s => s.GetProperty("state").TryGetProperty("running", out _));

    /// <summary>The first container's status.</summary>
    public static JsonElement Container(JsonElement pod) =>
        pod.GetProperty("status").GetProperty("containerStatuses")[0];
}

/// <summary>
/// Real containers through the real kubectl: logs, exec, cp, port-forward, the pod network, restarts
/// and probes. One definition for every real runtime; each runtime's class binds it to its cluster.
/// </summary>
public abstract partial class PodTests<TCluster>(TCluster cluster)
    where TCluster : PodCluster
{
    private Kubectl Kubectl => cluster.Kubectl;

    [Fact]
    public async Task Logs_show_the_containers_output_with_tail_timestamps_and_the_chosen_container()
    {
        await cluster.WaitForPodAsync("logger", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        await cluster.WaitForPodAsync("two", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");

        // containerd writes the log file as the output comes: wait for the last line, then look at all of it.
        (await Eventually.HoldsAsync(async () => (await Kubectl.RunAsync("logs logger")).Stdout.Contains("to-stderr", StringComparison.Ordinal), 100, TimeSpan.FromMilliseconds(200)))
            .Should().BeTrue("the container's output reaches its log");
        var all = await Kubectl.RunAsync("logs logger");
        all.ExitCode.Should().Be(0, all.ToString());
        all.Stdout.Should().Be("line 1\nline 2\nline 3\nline 4\nline 5\nto-stderr\n", "stdout and stderr share the log, in the order written (a second apart: the runtime reads the two pipes side by side)");

        var tail = await Kubectl.RunAsync("logs logger --tail=2 --timestamps");
        var lines = tail.Stdout.TrimEnd('\n').Split('\n');
        lines.Should().HaveCount(2);
        lines[0].Should().MatchRegex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line 5$");
        lines[1].Should().EndWith(" to-stderr");

        (await Kubectl.RunAsync("logs two -c second")).Stdout.Should().Be("i am second\n");
        (await Kubectl.RunAsync("logs two")).Stdout.Should().Be("i am first\n", "kubectl defaults to the first container");

        // Asked directly, without a container, the API server names the choices as kube-apiserver does.
        var unnamed = await Kubectl.RunAsync("get --raw /api/v1/namespaces/default/pods/two/log");
        unnamed.ExitCode.Should().NotBe(0);
        unnamed.Stderr.Should().Contain("a container name must be specified for pod two, choose one of: [first second]");
        var wrong = await Kubectl.RunAsync("logs two -c third");
        wrong.Stderr.Should().Contain("container third is not valid for pod two");
    }

    [Fact]
    public async Task The_containers_of_a_pod_share_its_localhost_and_its_ip()
    {
        var pod = await cluster.WaitForPodAsync("pair", p => PodCluster.Running(p) && p.GetProperty("status").GetProperty("conditions").EnumerateArray().Any(c => c.GetProperty("type").GetString() == "Ready" && c.GetProperty("status").GetString() == "True"), TimeSpan.FromSeconds(60), "runs both containers and its probe passes");

        (await Eventually.HoldsAsync(async () => (await Kubectl.RunAsync("logs pair -c client")).Stdout == "hello from the pair\n", 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("the client reaches the web container on the pod's localhost");
        var ip = pod.GetProperty("status").GetProperty("podIP").GetString();
        var seen = await Kubectl.RunAsync("exec pair -c client -- ip -4 -o addr show eth0");
        seen.Stdout.Should().Contain($"inet {ip}/", "every container of the pod has the pod's IP");
    }

    [Fact]
    public async Task Logs_follow_streams_lines_as_they_are_written_and_ends_when_the_container_exits()
    {
        await cluster.WaitForPodAsync("counter", p => p.GetProperty("status").GetProperty("phase").GetString() is "Running" or "Succeeded", TimeSpan.FromSeconds(60), "starts");
        var watch = Stopwatch.StartNew();
        var followed = await Kubectl.RunAsync(["logs", "-f", "counter"], timeout: TimeSpan.FromSeconds(30));
        followed.ExitCode.Should().Be(0, followed.ToString());
        followed.Stdout.Should().Be(string.Concat(Enumerable.Range(1, 6).Select(i => $"tick {i}\n")), "every line arrives, then the follow ends with the container");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(25));
    }

    [Theory]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.27")]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")]
    [InlineData("/usr/bin/kubectl")]
    public async Task Exec_runs_a_command_in_the_container_and_returns_its_output_and_exit_code(string kubectl)
    {
        await cluster.WaitForPodAsync("logger", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        var exec = cluster.KubectlOf(kubectl);
        var ok = await exec.RunAsync(["exec", "logger", "--", "sh", "-c", "echo in $(hostname); echo oops >&2"]);
        ok.ExitCode.Should().Be(0, ok.ToString());
        ok.Stdout.Should().Be("in logger\n");
        ok.Stderr.Should().Contain("oops");

        var failed = await exec.RunAsync(["exec", "logger", "--", "sh", "-c", "exit 7"]);
        failed.ExitCode.Should().Be(7, "kubectl exits with the command's code");

        var piped = await exec.RunAsync(["exec", "-i", "logger", "--", "sh", "-c", "tr a-z A-Z"], stdin: "shout this\n");
        piped.ExitCode.Should().Be(0, piped.ToString());
        piped.Stdout.Should().Be("SHOUT THIS\n", "stdin reaches the command and its end closes it");
    }

    [Fact]
    public async Task Kubectl_1_33_execs_and_port_forwards_over_websocket_without_falling_back_to_spdy()
    {
        await cluster.WaitForPodAsync("logger", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        var kubectl = cluster.KubectlOf("/usr/lib/google-cloud-sdk/bin/kubectl.1.33");
        var exec = await kubectl.RunAsync(["exec", "-i", "-v=7", "logger", "--", "sh", "-c", "cat; echo stdin closed"], stdin: "over v5\n");
        exec.ExitCode.Should().Be(0, exec.ToString());
        exec.Stdout.Should().Be("over v5\nstdin closed\n", "v5's close message ends the command's stdin");
        exec.Stderr.Should().Contain("Sec-Websocket-Protocol: v5.channel.k8s.io").And.Contain("101 Switching Protocols").And.NotContain("fallback");
    }

    [Fact]
    public async Task Exec_with_a_terminal_gives_the_command_a_tty()
    {
        await cluster.WaitForPodAsync("logger", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");

        // script(1) gives kubectl a terminal of its own, as an interactive user has.
        var start = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-qec", $"{Kubectl.Binary} exec -it logger -- sh -c 'tty; echo done'", "/dev/null" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["KUBECONFIG"] = cluster.Orch.Kubeconfig;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        output.Should().MatchRegex(@"/dev/pts/\d+", "the command runs on a terminal");
        output.Should().Contain("done");
    }

    [Fact]
    public async Task Cp_copies_a_file_into_a_container_and_back()
    {
        await cluster.WaitForPodAsync("logger", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        var dir = Directory.CreateTempSubdirectory("orch-cp-").FullName;
        try
        {
            var source = Path.Combine(dir, "in.txt");
            await File.WriteAllTextAsync(source, "copied across\n");
            var into = await Kubectl.RunAsync(["cp", source, "logger:/tmp/in.txt"]);
            into.ExitCode.Should().Be(0, into.ToString());
            (await Kubectl.RunAsync("exec logger -- cat /tmp/in.txt")).Stdout.Should().Be("copied across\n");

            var back = Path.Combine(dir, "back.txt");
            var outOf = await Kubectl.RunAsync(["cp", "logger:/tmp/in.txt", back]);
            outOf.ExitCode.Should().Be(0, outOf.ToString());
            (await File.ReadAllTextAsync(back)).Should().Be("copied across\n");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.27")]
    [InlineData("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")]
    public async Task Port_forward_reaches_a_port_of_the_pod(string kubectl)
    {
        await cluster.WaitForPodAsync("web-a", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        var local = FreePorts.Next();
        using var forward = cluster.KubectlOf(kubectl).Start("port-forward", "pod/web-a", $"{local}:8080", "--address", "127.0.0.1");
        try
        {
            var body = await PortForwarding.GetAsync(local);
            body.Should().Be("served by web-a\n", "the forwarded port is the pod's own");
        }
        finally
        {
            forward.Kill();
            await forward.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task One_pod_reaches_another_by_ip_across_the_bridge()
    {
        await cluster.WaitForPodAsync("web-a", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        var b = await cluster.WaitForPodAsync("web-b", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        var ip = b.GetProperty("status").GetProperty("podIP").GetString();
        ip.Should().StartWith("10.244.");
        var fetched = await Kubectl.RunAsync(["exec", "web-a", "--", "sh", "-c", $"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 8080"]);
        fetched.ExitCode.Should().Be(0, fetched.ToString());
        fetched.Stdout.Should().StartWith("HTTP/1.1 200 OK").And.EndWith("served by web-b\n");
    }

    [Fact]
    public async Task A_crashing_container_goes_to_CrashLoopBackOff_with_growing_restart_counts_and_its_previous_log()
    {
        var pod = await cluster.WaitForPodAsync(
            "crasher",
            p => p.GetProperty("status").TryGetProperty("containerStatuses", out _)
                && PodCluster.Container(p).GetProperty("restartCount").GetInt32() >= 2
                && PodCluster.Container(p).GetProperty("state").TryGetProperty("waiting", out var waiting)
                && waiting.GetProperty("reason").GetString() == "CrashLoopBackOff",
            TimeSpan.FromSeconds(90),
            "crash-loops with at least two restarts");
        var status = PodCluster.Container(pod);
        status.GetProperty("lastState").GetProperty("terminated").GetProperty("exitCode").GetInt32().Should().Be(1);
        status.GetProperty("lastState").GetProperty("terminated").GetProperty("reason").GetString().Should().Be("Error");
        status.GetProperty("state").GetProperty("waiting").GetProperty("message").GetString().Should().StartWith("back-off ");

        // kubelet's rule: --previous is lastState's instance, and while it waits to restart the plain log is that one too.
        var previous = await Kubectl.RunAsync("logs crasher --previous");
        previous.ExitCode.Should().Be(0, previous.ToString());
        previous.Stdout.Should().MatchRegex("^attempt at [0-9]+\n$");
        var current = await Kubectl.RunAsync("logs crasher");
        current.ExitCode.Should().Be(0, current.ToString());
        current.Stdout.Should().MatchRegex("^attempt at [0-9]+\n$");
    }

    [Fact]
    public async Task A_failing_liveness_probe_restarts_the_container()
    {
        var pod = await cluster.WaitForPodAsync("liveness", p => p.GetProperty("status").TryGetProperty("containerStatuses", out _) && PodCluster.Container(p).GetProperty("restartCount").GetInt32() >= 1, TimeSpan.FromSeconds(60), "is restarted by its liveness probe");
        PodCluster.Container(pod).GetProperty("lastState").GetProperty("terminated").GetProperty("exitCode").GetInt32().Should().NotBe(0, "the probe killed it");
        var events = await Kubectl.RunAsync("get events --field-selector involvedObject.name=liveness");
        events.Stdout.Should().Contain("Unhealthy").And.Contain("Liveness probe failed");
    }

    [Fact]
    public async Task A_failing_readiness_probe_keeps_the_pod_running_but_not_ready()
    {
        await cluster.WaitForPodAsync("unready", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");

        // The positive signal: the readiness probe has failed several times (kubelet counts repeats on one Unhealthy event).
        var failedThrice = await Eventually.HoldsAsync(
            async () => (await Kubectl.RunAsync(["get", "events", "--field-selector", "involvedObject.name=unready,reason=Unhealthy", "-o", "jsonpath={.items[*].count}"])).Stdout
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Sum() >= 3,
            300,
            TimeSpan.FromMilliseconds(100));
        failedThrice.Should().BeTrue("the readiness probe fails every second");
        var pod = await cluster.WaitForPodAsync("unready", PodCluster.Running, TimeSpan.FromSeconds(5), "still runs");
        PodCluster.Container(pod).GetProperty("ready").GetBoolean().Should().BeFalse();
        pod.GetProperty("status").GetProperty("conditions").EnumerateArray()
            .Single(c => c.GetProperty("type").GetString() == "Ready").GetProperty("status").GetString().Should().Be("False");
        PodCluster.Container(pod).GetProperty("restartCount").GetInt32().Should().Be(0, "readiness never restarts");
    }

    [Fact]
    public async Task An_image_that_is_not_on_the_node_gives_the_pod_the_waiting_reason_kubelet_gives()
    {
        var pod = await cluster.WaitForPodAsync(
            "missing-image",
            p => p.GetProperty("status").TryGetProperty("containerStatuses", out _) && PodCluster.Container(p).GetProperty("state").TryGetProperty("waiting", out var w) && w.GetProperty("reason").GetString() == "ErrImageNeverPull",
            TimeSpan.FromSeconds(60),
            "waits with ErrImageNeverPull");
        PodCluster.Container(pod).GetProperty("state").GetProperty("waiting").GetProperty("message").GetString().Should().Contain("orchestration.local/not-here:1");
        var logs = await Kubectl.RunAsync("logs missing-image");
        logs.ExitCode.Should().NotBe(0);
        logs.Stderr.Should().Contain("is waiting to start: ErrImageNeverPull");
    }

    [Fact]
    public async Task An_image_that_would_be_pulled_but_is_not_on_the_node_backs_off_with_ImagePullBackOff()
    {
        var pod = await cluster.WaitForPodAsync(
            "pull-image",
            p => p.GetProperty("status").TryGetProperty("containerStatuses", out _) && PodCluster.Container(p).GetProperty("state").TryGetProperty("waiting", out var w) && w.GetProperty("reason").GetString() == "ImagePullBackOff",
            TimeSpan.FromSeconds(60),
            "backs off pulling");
        PodCluster.Container(pod).GetProperty("state").GetProperty("waiting").GetProperty("message").GetString().Should().Be("Back-off pulling image \"orchestration.local/not-here:2\"");
    }

    [Fact]
    public async Task A_container_over_its_memory_limit_is_OOMKilled()
    {
        var pod = await cluster.WaitForPodAsync("hungry", p => p.GetProperty("status").GetProperty("phase").GetString() is "Failed" or "Succeeded", TimeSpan.FromSeconds(60), "ends");
        pod.GetProperty("status").GetProperty("phase").GetString().Should().Be("Failed");
        var terminated = PodCluster.Container(pod).GetProperty("state").GetProperty("terminated");
        terminated.GetProperty("reason").GetString().Should().Be("OOMKilled", "the cgroup's 20Mi limit killed it");
        terminated.GetProperty("exitCode").GetInt32().Should().Be(137);
        (await Kubectl.RunAsync("logs hungry")).Stdout.Should().NotContain("survived");
    }

    [Fact]
    public async Task Deleting_a_pod_stops_its_container_within_its_grace_period()
    {
        const string stubborn = """
            apiVersion: v1
            kind: Pod
            metadata: {name: stubborn}
            spec:
              terminationGracePeriodSeconds: 3
              containers:
              - name: main
                image: busybox
                command: ["sh", "-c", "trap '' TERM; while true; do sleep 1; done"]
            """;
        (await Kubectl.RunAsync(["apply", "-f", "-"], stubborn)).ExitCode.Should().Be(0);
        var pod = await cluster.WaitForPodAsync("stubborn", PodCluster.Running, TimeSpan.FromSeconds(60), "runs");
        var id = PodCluster.Container(pod).GetProperty("containerID").GetString()!.Replace($"{cluster.RuntimeName}://", "", StringComparison.Ordinal);

        var watch = Stopwatch.StartNew();
        var deleted = await Kubectl.RunAsync(["delete", "pod", "stubborn", "--wait=true", "--timeout=30s"], timeout: TimeSpan.FromSeconds(40));
        watch.Stop();
        deleted.ExitCode.Should().Be(0, deleted.ToString());
        watch.Elapsed.Should().BeGreaterThan(TimeSpan.FromSeconds(2.5), "a process that ignores SIGTERM keeps its grace period").And.BeLessThan(TimeSpan.FromSeconds(12), "then it is killed");

        var gone = await Eventually.HoldsAsync(() => cluster.ContainerGoneAsync(id), 50, TimeSpan.FromMilliseconds(200));
        gone.Should().BeTrue("the container is removed with its pod");
    }
}

/// <summary><c>orch up --runtime containerd</c> for the shared pod tests.</summary>
public sealed class ContainerdPodCluster : PodCluster
{
    /// <inheritdoc />
    public override string RuntimeName => "containerd";

    /// <inheritdoc />
    public override async Task<bool> ContainerGoneAsync(string containerId) =>
        !(await Ctr.RunAsync(Path.Combine(Orch.DataDir, "containerd", "containerd.sock"), "containers", "ls", "-q")).Contains(containerId, StringComparison.Ordinal);

    /// <inheritdoc />
    protected override string[] RuntimeArguments(string imageArchive) => ["--runtime", "containerd", "--image-archive", imageArchive];
}

/// <summary>The shared pod tests on real containerd.</summary>
[Trait("Category", "E2E")]
public sealed class ContainerdPodTests(ContainerdPodCluster cluster) : PodTests<ContainerdPodCluster>(cluster), IClassFixture<ContainerdPodCluster>;

/// <summary><c>orch up --runtime docker</c> for the shared pod tests.</summary>
public sealed class DockerPodCluster : PodCluster
{
    /// <inheritdoc />
    public override string RuntimeName => "docker";

    /// <inheritdoc />
    public override async Task<bool> ContainerGoneAsync(string containerId)
    {
        var start = new System.Diagnostics.ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-H", $"unix://{Path.Combine(Orch.DataDir, "docker", "docker.sock")}", "ps", "-aq", "--no-trunc" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return process.ExitCode == 0 && !output.Contains(containerId, StringComparison.Ordinal);
    }

    /// <inheritdoc />
    protected override string[] RuntimeArguments(string imageArchive) => ["--runtime", "docker", "--image-archive", imageArchive];
}

/// <summary>The shared pod tests on real Docker.</summary>
[Trait("Category", "E2E")]
public sealed class DockerPodTests(DockerPodCluster cluster) : PodTests<DockerPodCluster>(cluster), IClassFixture<DockerPodCluster>;

/// <summary>containerd's own client, to look behind the node agent's back.</summary>
internal static class Ctr
{
    public static async Task<string> RunAsync(string socket, params string[] args)
    {
        var start = new ProcessStartInfo("ctr") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-a", socket, "-n", "k8s.io" }.Concat(args))
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
