using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Docker.DotNet;
using Docker.DotNet.Models;
using k8s.Models;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Runtime;
using Orchestration.Runtime.Containerd;

// Pod start latency on real containerd, then on Docker (unless --no-docker). `orch up --runtime
// containerd` runs as its own process; a batch of N pods is created through the API at once and each pod's latency is the time from its
// create call to the API reporting it Running (scheduler, node agent, sandbox, container, status).
// Beside it, in the same run and against the same containerd, the same starts are made with raw CRI
// calls (RunPodSandbox, CreateContainer, StartContainer) at the node agent's parallelism: the floor
// the cluster is compared to. Rounds alternate so that neither side gets a warmer containerd. Then
// `orch up --runtime docker` takes the same rounds, each after the same starts made straight over the
// Docker Engine API against its dockerd (whose containers are removed before orch's round), and the
// two runtimes are compared through orch.
var pods = Arg("--pods", 30);
var rounds = Arg("--rounds", 2);
var parallelism = Arg("--parallelism", 16); // the containerd node of orch up syncs 16 pods at once
var archive = ArgText("--image-archive") ?? FindArchive();
var docker = !args.Contains("--no-docker");
var (orch, dataDir, output, client) = await StartOrchAsync("containerd");
try
{
    var netns = output.Select(l => Regex.Match(l, "network namespace (orch-[0-9a-f]+)")).FirstOrDefault(m => m.Success)?.Groups[1].Value
        ?? throw new InvalidOperationException("orch did not say which network namespace its containerd runs in");
    await using var raw = new ContainerdRuntime(Options.Create(new ContainerdRuntimeOptions
    {
        SocketPath = Path.Combine(dataDir, "containerd", "containerd.sock"),
        NetworkNamespacePath = $"/var/run/netns/{netns}",
    }));
    await raw.ConnectAsync(TimeSpan.FromSeconds(30), CancellationToken.None);

    Console.WriteLine($"pod start latency: {pods} pods per round, {rounds} rounds, on {raw.Version}; raw CRI at the node agent's parallelism of {parallelism}");

    // A first round each way, not counted, unpacks the image and warms both paths: a cluster that has
    // run for a while has its hot code compiled (a fresh .NET process spends most of its first
    // seconds of load in the JIT's tier-up), as the measured rounds then show.
    await RunClusterAsync(client, pods, "warm");
    await QuietAsync(raw);
    await RunRawAsync(raw, pods, parallelism, "warm");
    await QuietAsync(raw);

    var cluster = new List<double>();
    var direct = new List<double>();
    for (var round = 1; round <= rounds; round++)
    {
        var rawRound = await RunRawAsync(raw, pods, parallelism, $"r{round}");
        await QuietAsync(raw);
        var cpuBefore = CpuSeconds(orch.Id);
        var clusterRound = await RunClusterAsync(client, pods, $"r{round}");
        var cpu = CpuSeconds(orch.Id) - cpuBefore;
        await QuietAsync(raw);
        Console.WriteLine($"  round {round}: raw CRI p50 {P(rawRound, 50):F0} ms p99 {P(rawRound, 99):F0} ms | orch apply-to-Running p50 {P(clusterRound, 50):F0} ms p99 {P(clusterRound, 99):F0} ms; orch used {cpu:F2} CPU s (start and delete)");
        direct.AddRange(rawRound);
        cluster.AddRange(clusterRound);
    }

    Console.WriteLine($"raw CRI (sandbox + container start): p50 {P(direct, 50):F0} ms, p99 {P(direct, 99):F0} ms");
    Console.WriteLine($"orch (create to Running):           p50 {P(cluster, 50):F0} ms, p99 {P(cluster, 99):F0} ms");
    var ratio50 = P(cluster, 50) / P(direct, 50);
    var ratio99 = P(cluster, 99) / P(direct, 99);
    Console.WriteLine($"ratio orch/raw CRI: p50 {ratio50:F2}x, p99 {ratio99:F2}x (target <= 1.2x); p99 {P(cluster, 99) / 1000:F2} s (SLO < 5 s)");
    if (!docker)
    {
        return 0;
    }

    // The same rounds on `orch up --runtime docker`, after the containerd cluster is gone, in this run.
    await StopOrchAsync(orch, dataDir);
    client.Dispose();
    (orch, dataDir, output, client) = await StartOrchAsync("docker");
    using var engine = new DockerClientConfiguration(new Uri("unix://" + Path.Combine(dataDir, "docker", "docker.sock"))).CreateClient();
    await RunClusterAsync(client, pods, "warm");
    await RunRawDockerAsync(engine, pods, parallelism, "warm");
    var onDocker = new List<double>();
    var rawDocker = new List<double>();
    for (var round = 1; round <= rounds; round++)
    {
        var rawRound = await RunRawDockerAsync(engine, pods, parallelism, $"d{round}");
        var dockerRound = await RunClusterAsync(client, pods, $"d{round}");
        Console.WriteLine($"  docker round {round}: raw Engine API p50 {P(rawRound, 50):F0} ms p99 {P(rawRound, 99):F0} ms | orch apply-to-Running p50 {P(dockerRound, 50):F0} ms p99 {P(dockerRound, 99):F0} ms");
        onDocker.AddRange(dockerRound);
        rawDocker.AddRange(rawRound);
    }

    Console.WriteLine($"raw Docker Engine API (sandbox + container start): p50 {P(rawDocker, 50):F0} ms, p99 {P(rawDocker, 99):F0} ms");
    Console.WriteLine($"orch on docker (create to Running):  p50 {P(onDocker, 50):F0} ms, p99 {P(onDocker, 99):F0} ms");
    Console.WriteLine($"ratio orch on docker/raw Docker: p50 {P(onDocker, 50) / P(rawDocker, 50):F2}x, p99 {P(onDocker, 99) / P(rawDocker, 99):F2}x");
    Console.WriteLine($"ratio docker/containerd through orch: p50 {P(onDocker, 50) / P(cluster, 50):F2}x, p99 {P(onDocker, 99) / P(cluster, 99):F2}x");
    return 0;
}
finally
{
    client.Dispose();
    await StopOrchAsync(orch, dataDir);
}

// `orch up --runtime <runtime>` as its own process on a fresh data directory, once its node is Ready.
async Task<(Process Orch, string DataDir, ConcurrentQueue<string> Output, RemoteClusterClient Client)> StartOrchAsync(string runtime)
{
    var directory = Directory.CreateTempSubdirectory("orch-podstart-").FullName;
    int port;
    using (var probe = new TcpListener(IPAddress.Loopback, 0))
    {
        probe.Start();
        port = ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    var lines = new ConcurrentQueue<string>();
    var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "orch.dll"), "up", "--data-dir", directory, "--port", port.ToString(CultureInfo.InvariantCulture), "--runtime", runtime, "--image-archive", archive })
    {
        start.ArgumentList.Add(arg);
    }

    var process = Process.Start(start) ?? throw new InvalidOperationException("orch did not start");
    process.OutputDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
    process.ErrorDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    var kubeconfig = Path.Combine(directory, "kubeconfig");
    var clock = Stopwatch.StartNew();
    while (!File.Exists(kubeconfig) && clock.Elapsed < TimeSpan.FromSeconds(60))
    {
        await Task.Delay(200);
    }

    var api = new RemoteClusterClient(RemoteClusterClientOptions.FromKubeconfig(kubeconfig), ResourceKindTable.CreateDefault());
    await WaitAsync(async () => (await api.ListAsync<V1Node>(null)).Items.Any(n => n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true), TimeSpan.FromSeconds(120), $"the {runtime} node to be Ready");
    return (process, directory, lines, api);
}

// SIGTERM, as Ctrl-C: orch stops its node's runtime and everything in it.
static async Task StopOrchAsync(Process process, string directory)
{
    if (!process.HasExited)
    {
        using (var stop = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await stop.WaitForExitAsync();
        }

        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
        }
    }

    process.Dispose();
    if (Directory.Exists(directory))
    {
        Directory.Delete(directory, recursive: true);
    }
}

// Creates the pods at once, then watches the API until each is Running; returns each pod's latency in ms.
async Task<List<double>> RunClusterAsync(RemoteClusterClient client, int count, string tag)
{
    var names = Enumerable.Range(0, count).Select(i => $"bench-{tag}-{i}").ToList();
    var created = new ConcurrentDictionary<string, long>();
    var running = new ConcurrentDictionary<string, long>();
    var clock = Stopwatch.StartNew();

    // A watch, as kubectl's would, sees each pod turn Running without loading the API server with lists.
    using var watching = new CancellationTokenSource(TimeSpan.FromMinutes(3));
    var allRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var watch = Task.Run(async () =>
    {
        await foreach (var change in client.WatchAsync<V1Pod>("default", new WatchOptions { LabelSelector = $"bench={tag}" }, watching.Token))
        {
            if (change.Object.Status?.Phase == "Running" && running.TryAdd(change.Object.Metadata.Name, clock.ElapsedTicks) && running.Count == count)
            {
                allRunning.TrySetResult();
                return;
            }
        }
    });
    await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, token) =>
    {
        created[name] = clock.ElapsedTicks;
        await client.CreateAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["bench"] = tag } },
            Spec = new V1PodSpec { TerminationGracePeriodSeconds = 0, Containers = [new V1Container { Name = "main", Image = "busybox", Command = ["sleep", "3600"] }] },
        }, token);
    });
    await Task.WhenAny(allRunning.Task, watch);
    await watching.CancelAsync();
    if (running.Count < count)
    {
        throw new InvalidOperationException($"only {running.Count} of {count} pods ran within 3 minutes");
    }

    foreach (var name in names)
    {
        await client.DeleteAsync<V1Pod>("default", name);
    }

    await WaitAsync(async () => (await client.ListAsync<V1Pod>("default", new ListOptions { LabelSelector = $"bench={tag}" })).Items.Count == 0, TimeSpan.FromMinutes(2), "the pods to go");
    return names.Select(n => (running[n] - created[n]) * 1000.0 / Stopwatch.Frequency).ToList();
}

// The same starts straight over CRI: sandbox, then container create and start, per pod.
async Task<List<double>> RunRawAsync(ContainerdRuntime runtime, int count, int workers, string tag)
{
    var latencies = new ConcurrentBag<double>();
    var sandboxes = new ConcurrentBag<string>();
    var clock = Stopwatch.StartNew();
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = workers }, async (i, token) =>
    {
        var sandbox = await runtime.RunPodSandboxAsync(new PodSandboxConfig("bench-raw", $"raw-{tag}-{i}", Guid.NewGuid().ToString()), token);
        sandboxes.Add(sandbox.Id);
        var id = await runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("main", "busybox", ["sleep", "3600"], [], new Dictionary<string, string>()), token);
        await runtime.StartContainerAsync(id, token);
        latencies.Add(clock.Elapsed.TotalMilliseconds);
    });
    foreach (var id in sandboxes)
    {
        await runtime.StopPodSandboxAsync(id, CancellationToken.None);
        await runtime.RemovePodSandboxAsync(id, CancellationToken.None);
    }

    return [.. latencies];
}

// The same starts straight over the Docker Engine API, at the fewest calls a pod takes: a sandbox
// container on the pod network (create, start), then the container joined to its network and IPC
// namespaces (create, start). Against the dockerd orch started, between orch's rounds.
static async Task<List<double>> RunRawDockerAsync(DockerClient engine, int count, int workers, string tag)
{
    var latencies = new ConcurrentBag<double>();
    var sandboxes = new ConcurrentBag<string>();
    var containers = new ConcurrentBag<string>();
    var clock = Stopwatch.StartNew();
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = workers }, async (i, token) =>
    {
        var sandbox = await engine.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = $"raw-{tag}-{i}-pod",
            Image = "orchestration.local/sandbox:1",
            HostConfig = new HostConfig { NetworkMode = "orchestration-pods", IpcMode = "shareable" },
        }, token);
        sandboxes.Add(sandbox.ID);
        await engine.Containers.StartContainerAsync(sandbox.ID, new ContainerStartParameters(), token);
        var container = await engine.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Name = $"raw-{tag}-{i}-main",
            Image = "busybox",
            Cmd = ["sleep", "3600"],
            HostConfig = new HostConfig { NetworkMode = $"container:{sandbox.ID}", IpcMode = $"container:{sandbox.ID}" },
        }, token);
        containers.Add(container.ID);
        await engine.Containers.StartContainerAsync(container.ID, new ContainerStartParameters(), token);
        latencies.Add(clock.Elapsed.TotalMilliseconds);
    });

    // Containers before their sandboxes, as a pod is torn down.
    foreach (var id in containers.Concat(sandboxes))
    {
        await engine.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true });
    }

    return [.. latencies];
}

// Each side starts on an idle containerd: the other side's pods are gone, sandboxes and all.
static Task QuietAsync(ContainerdRuntime runtime) =>
    WaitAsync(async () => (await runtime.ListPodSandboxesAsync(CancellationToken.None)).Count == 0, TimeSpan.FromMinutes(2), "containerd to hold no sandbox");

// utime + stime of a process, from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
static double CpuSeconds(int pid)
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

static double P(IReadOnlyCollection<double> values, int percentile)
{
    var sorted = values.Order().ToList();
    var index = (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1;
    return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
}

static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan within, string what)
{
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed < within)
    {
        try
        {
            if (await condition())
            {
                return;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or ClusterApiException)
        {
            // Still starting.
        }

        await Task.Delay(100);
    }

    throw new TimeoutException($"waited {within} for {what}");
}

static string FindArchive()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "artifacts", "images", "busybox-oci.tar");
        if (File.Exists(candidate))
        {
            return candidate;
        }
    }

    throw new FileNotFoundException("artifacts/images/busybox-oci.tar is missing: run scripts/build-images.sh, or pass --image-archive");
}

int Arg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

string? ArgText(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
