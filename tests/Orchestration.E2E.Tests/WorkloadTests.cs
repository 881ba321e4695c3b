using System.Text.Json;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>One <c>orch up --runtime simulated --nodes 3</c> shared by the workload tests; each test works in a namespace of its own.</summary>
public sealed class SimulatedCluster : IAsyncLifetime
{
    private OrchProcess? _orch;

    public OrchProcess Orch => _orch!;

    public async Task InitializeAsync()
    {
        _orch = await OrchProcess.StartAsync(extraArgs: ["--runtime", "simulated", "--nodes", "3"]);
        var kubectl = new Kubectl(Kubectl.Versions[0], Orch.Kubeconfig);
        var ready = await Eventually.HoldsAsync(async () => (await kubectl.RunAsync("get nodes --no-headers")).Stdout.Split('\n').Count(l => l.Contains(" Ready ", StringComparison.Ordinal)) == 3, 200, TimeSpan.FromMilliseconds(100));
        ready.Should().BeTrue("the three simulated nodes register");
    }

    public async Task DisposeAsync()
    {
        if (_orch is not null)
        {
            await _orch.DisposeAsync();
            Directory.Delete(_orch.DataDir, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SimulatedClusterCollection : ICollectionFixture<SimulatedCluster>
{
    public const string Name = "orch up --runtime simulated";
}

/// <summary>The workload controllers, the scheduler and simulated node agents, driven by the real kubectl.</summary>
[Collection(SimulatedClusterCollection.Name)]
[Trait("Category", "E2E")]
public sealed class WorkloadTests(SimulatedCluster cluster)
{
    private readonly Kubectl _kubectl = new(Kubectl.Versions[0], cluster.Orch.Kubeconfig);

    private async Task<string> NamespaceAsync()
    {
        var name = $"w-{Guid.NewGuid():N}"[..14];
        (await _kubectl.RunAsync(["create", "namespace", name])).ExitCode.Should().Be(0);
        return name;
    }

    private async Task<CommandResult> RunAsync(params string[] args)
    {
        var result = await _kubectl.RunAsync(args, timeout: TimeSpan.FromSeconds(60));
        result.ExitCode.Should().Be(0, result.ToString());
        return result;
    }

    private async Task<JsonElement> JsonAsync(params string[] args)
    {
        var result = await RunAsync([.. args, "-o", "json"]);
        return JsonDocument.Parse(result.Stdout).RootElement;
    }

    private static string Deployment(string image, int replicas) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: {{replicas}}
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers: [{name: web, image: "{{image}}"}]
        """;

    private async Task<string[]> RunningImagesAsync(string ns, string selector)
    {
        var pods = await JsonAsync("get", "pods", "-n", ns, "-l", selector);
        return pods.GetProperty("items").EnumerateArray()
            .Where(p => p.GetProperty("metadata").TryGetProperty("deletionTimestamp", out _) is false)
            .Select(p => p.GetProperty("spec").GetProperty("containers")[0].GetProperty("image").GetString()!)
            .ToArray();
    }

    [Fact]
    public async Task A_deployment_rolls_out_scales_3_10_2_updates_its_image_rolls_back_and_cascades_on_delete()
    {
        var ns = await NamespaceAsync();
        (await _kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Deployment("busybox:1", 3))).ExitCode.Should().Be(0);
        var rollout = await RunAsync("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");
        rollout.Stdout.Should().Contain("deployment \"web\" successfully rolled out");
        (await RunningImagesAsync(ns, "app=web")).Should().HaveCount(3);

        await RunAsync("scale", "deployment/web", "-n", ns, "--replicas=10");
        await RunAsync("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");
        var ten = await JsonAsync("get", "deployment", "web", "-n", ns);
        ten.GetProperty("status").GetProperty("readyReplicas").GetInt32().Should().Be(10);
        (await RunningImagesAsync(ns, "app=web")).Should().HaveCount(10);

        await RunAsync("scale", "deployment/web", "-n", ns, "--replicas=2");
        await RunAsync("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");
        (await Eventually.HoldsAsync(async () => (await RunningImagesAsync(ns, "app=web")).Length == 2, 100, TimeSpan.FromMilliseconds(100))).Should().BeTrue("scaling down to 2 deletes 8 pods");

        await RunAsync("set", "image", "deployment/web", "-n", ns, "web=busybox:2");
        (await RunAsync("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")).Stdout.Should().Contain("successfully rolled out");
        (await Eventually.HoldsAsync(async () => (await RunningImagesAsync(ns, "app=web")).All(i => i == "busybox:2"), 100, TimeSpan.FromMilliseconds(100))).Should().BeTrue("every pod runs the new image");
        var history = await RunAsync("rollout", "history", "deployment/web", "-n", ns);
        history.Stdout.Should().MatchRegex(@"(?m)^1\s").And.MatchRegex(@"(?m)^2\s");

        (await RunAsync("rollout", "undo", "deployment/web", "-n", ns)).Stdout.Should().Contain("rolled back");
        await RunAsync("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");
        (await Eventually.HoldsAsync(async () => (await RunningImagesAsync(ns, "app=web")) is { Length: 2 } images && images.All(i => i == "busybox:1"), 100, TimeSpan.FromMilliseconds(100))).Should().BeTrue("the rollback brings the first template back");
        var sets = await JsonAsync("get", "replicasets", "-n", ns);
        sets.GetProperty("items").GetArrayLength().Should().Be(2, "the rollback reuses the first ReplicaSet instead of making a third");
        var deployment = await JsonAsync("get", "deployment", "web", "-n", ns);
        deployment.GetProperty("metadata").GetProperty("annotations").GetProperty("deployment.kubernetes.io/revision").GetString().Should().Be("3");

        await RunAsync("delete", "deployment", "web", "-n", ns);
        (await Eventually.HoldsAsync(async () => (await RunAsync("get", "replicasets,pods", "-n", ns, "-o", "name")).Stdout.Trim().Length == 0, 100, TimeSpan.FromMilliseconds(100)))
            .Should().BeTrue("deleting the Deployment deletes its ReplicaSets and their pods");
    }

    [Fact]
    public async Task A_paused_deployment_holds_its_template_change_until_resumed_and_recreate_replaces_all_pods()
    {
        var ns = await NamespaceAsync();
        var manifest = Deployment("busybox:1", 3).Replace("spec:\n  replicas", "spec:\n  strategy: {type: Recreate}\n  replicas", StringComparison.Ordinal);
        (await _kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], manifest)).ExitCode.Should().Be(0);
        await RunAsync("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");

        await RunAsync("rollout", "pause", "deployment/web", "-n", ns);
        await RunAsync("set", "image", "deployment/web", "-n", ns, "web=busybox:2");
        var paused = await Eventually.HoldsAsync(async () => (await JsonAsync("get", "deployment", "web", "-n", ns)).GetProperty("status").GetProperty("conditions").EnumerateArray()
            .Any(c => c.GetProperty("reason").GetString() == "DeploymentPaused"), 50, TimeSpan.FromMilliseconds(100));
        paused.Should().BeTrue("a paused Deployment says so in its Progressing condition");
        (await JsonAsync("get", "replicasets", "-n", ns)).GetProperty("items").GetArrayLength().Should().Be(1, "no new ReplicaSet while paused");

        await RunAsync("rollout", "resume", "deployment/web", "-n", ns);
        await RunAsync("rollout", "status", "deployment/web", "-n", ns, "--timeout=60s");
        (await Eventually.HoldsAsync(async () => (await RunningImagesAsync(ns, "app=web")) is { Length: 3 } images && images.All(i => i == "busybox:2"), 100, TimeSpan.FromMilliseconds(100))).Should().BeTrue();
        var events = await RunAsync("get", "events", "-n", ns, "--field-selector", "involvedObject.kind=Deployment", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}");
        events.Stdout.Should().MatchRegex(@"Scaled down replica set web-\w+ from 3 to 0", "Recreate scales the old set to zero first");
    }

    [Fact]
    public async Task A_daemon_set_lands_one_pod_on_each_node()
    {
        var ns = await NamespaceAsync();
        const string manifest = """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent}
            spec:
              selector: {matchLabels: {app: agent}}
              template:
                metadata: {labels: {app: agent}}
                spec:
                  containers: [{name: a, image: busybox}]
            """;
        (await _kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], manifest)).ExitCode.Should().Be(0);
        (await RunAsync("rollout", "status", "daemonset/agent", "-n", ns, "--timeout=60s")).Stdout.Should().Contain("successfully rolled out");
        var pods = await JsonAsync("get", "pods", "-n", ns, "-l", "app=agent");
        var nodes = pods.GetProperty("items").EnumerateArray().Select(p => p.GetProperty("spec").GetProperty("nodeName").GetString()).ToList();
        nodes.Should().BeEquivalentTo(["sim-node-0", "sim-node-1", "sim-node-2"], "one pod per node, none twice");
        var ds = await JsonAsync("get", "daemonset", "agent", "-n", ns);
        ds.GetProperty("status").GetProperty("desiredNumberScheduled").GetInt32().Should().Be(3);
        ds.GetProperty("status").GetProperty("numberReady").GetInt32().Should().Be(3);
    }

    [Fact]
    public async Task A_stateful_set_creates_its_pods_in_order_each_after_the_previous_is_ready()
    {
        var ns = await NamespaceAsync();

        // The watch shows the store's order of changes: db-N must be added only after db-(N-1) turned Ready.
        // kubectl lists, then watches from the list's resourceVersion: once the sentinel pod is printed, nothing later is missed.
        (await _kubectl.RunAsync(["run", "sentinel", "-n", ns, "--image=busybox", "--restart=Never"])).ExitCode.Should().Be(0);
        using var watch = _kubectl.Start("get", "pods", "-n", ns, "-w", "--output-watch-events", "-o", "jsonpath={.type} {.object.metadata.name} {.object.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}");
        var lines = new List<string>();
        watch.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lock (lines)
                {
                    lines.Add(line.Trim());
                }
            }
        };
        watch.BeginOutputReadLine();
        var listed = await Eventually.HoldsAsync(
            () =>
            {
                lock (lines)
                {
                    return Task.FromResult(lines.Any(l => l.StartsWith("ADDED sentinel", StringComparison.Ordinal)));
                }
            },
            200,
            TimeSpan.FromMilliseconds(100));
        listed.Should().BeTrue("kubectl get -w lists what is there before it watches");
        const string manifest = """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: db}
            spec:
              replicas: 3
              serviceName: db
              selector: {matchLabels: {app: db}}
              template:
                metadata: {labels: {app: db}}
                spec:
                  containers: [{name: a, image: busybox}]
            """;
        (await _kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], manifest)).ExitCode.Should().Be(0);
        await RunAsync("rollout", "status", "statefulset/db", "-n", ns, "--timeout=60s");
        await Eventually.HoldsAsync(() => { lock (lines) { return lines.Count(l => l.EndsWith("True", StringComparison.Ordinal)) >= 3; } }, 50, TimeSpan.FromMilliseconds(100));
        watch.Kill();

        List<string> seen;
        lock (lines)
        {
            seen = [.. lines];
        }

        int Index(Func<string, bool> match) => seen.FindIndex(l => match(l));
        for (var i = 1; i < 3; i++)
        {
            var previous = i - 1;
            var previousReady = Index(l => l.StartsWith($"MODIFIED db-{previous} ", StringComparison.Ordinal) && l.EndsWith("True", StringComparison.Ordinal));
            var added = Index(l => l.StartsWith($"ADDED db-{i}", StringComparison.Ordinal));
            previousReady.Should().BeGreaterThanOrEqualTo(0, string.Join('\n', seen));
            added.Should().BeGreaterThan(previousReady, $"db-{i} comes after db-{previous} is Ready:\n{string.Join('\n', seen)}");
        }

        var pods = await JsonAsync("get", "pods", "-n", ns, "-l", "app=db");
        pods.GetProperty("items").EnumerateArray().Select(p => p.GetProperty("spec").GetProperty("hostname").GetString()).Should().BeEquivalentTo(["db-0", "db-1", "db-2"], "stable names are the hostnames");
    }

    [Fact]
    public async Task A_job_runs_its_completions_two_at_a_time_and_completes()
    {
        var ns = await NamespaceAsync();

        // On the simulated runtime "sleep 1" runs a second and exits 0.
        const string manifest = """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: batch}
            spec:
              completions: 4
              parallelism: 2
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: a, image: busybox, command: ["sh", "-c", "sleep 1"]}]
            """;
        (await _kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], manifest)).ExitCode.Should().Be(0);
        var wait = await _kubectl.RunAsync(["wait", "--for=condition=complete", "job/batch", "-n", ns, "--timeout=60s"], timeout: TimeSpan.FromSeconds(70));
        wait.ExitCode.Should().Be(0, wait.ToString());

        var job = await JsonAsync("get", "job", "batch", "-n", ns);
        job.GetProperty("status").GetProperty("succeeded").GetInt32().Should().Be(4);
        var pods = await JsonAsync("get", "pods", "-n", ns, "-l", "job-name=batch");
        pods.GetProperty("items").EnumerateArray().Select(p => p.GetProperty("status").GetProperty("phase").GetString()).Should().HaveCount(4).And.AllBe("Succeeded");
        (await RunAsync("get", "job", "batch", "-n", ns)).Stdout.Should().MatchRegex(@"batch\s+Complete\s+4/4");
    }

    [Fact]
    public async Task A_crashing_container_restarts_and_shows_crash_loop_back_off()
    {
        var ns = await NamespaceAsync();
        const string manifest = """
            apiVersion: v1
            kind: Pod
            metadata: {name: crash}
            spec:
              containers: [{name: a, image: busybox, command: ["sh", "-c", "exit 3"]}]
            """;
        (await _kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], manifest)).ExitCode.Should().Be(0);
        JsonElement status = default;
        var looping = await Eventually.HoldsAsync(async () =>
        {
            status = (await JsonAsync("get", "pod", "crash", "-n", ns)).GetProperty("status");
            return status.TryGetProperty("containerStatuses", out var containers)
                && containers[0].GetProperty("restartCount").GetInt32() >= 1
                && containers[0].GetProperty("state").TryGetProperty("waiting", out var waiting)
                && waiting.GetProperty("reason").GetString() == "CrashLoopBackOff";
        }, 150, TimeSpan.FromMilliseconds(200));
        looping.Should().BeTrue(status.ToString());
        var container = status.GetProperty("containerStatuses")[0];
        container.GetProperty("lastState").GetProperty("terminated").GetProperty("exitCode").GetInt32().Should().Be(3);
        (await RunAsync("get", "pod", "crash", "-n", ns)).Stdout.Should().Contain("CrashLoopBackOff");
    }

    [Fact]
    public async Task A_pod_that_fits_nowhere_stays_pending_with_a_failed_scheduling_event_that_describe_shows()
    {
        var ns = await NamespaceAsync();
        const string manifest = """
            apiVersion: v1
            kind: Pod
            metadata: {name: huge}
            spec:
              containers:
              - name: a
                image: busybox
                resources: {requests: {cpu: "64"}}
            """;
        (await _kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], manifest)).ExitCode.Should().Be(0);
        CommandResult describe = new(1, "", "");
        var shown = await Eventually.HoldsAsync(async () => (describe = await _kubectl.RunAsync(["describe", "pod", "huge", "-n", ns])).Stdout.Contains("FailedScheduling", StringComparison.Ordinal), 100, TimeSpan.FromMilliseconds(100));
        shown.Should().BeTrue(describe.ToString());
        describe.Stdout.Should().Contain("0/3 nodes are available: 3 Insufficient cpu.");
        describe.Stdout.Should().MatchRegex(@"Status:\s+Pending");
    }
}
