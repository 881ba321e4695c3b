using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;

// The whole control plane: `orch up --runtime simulated --nodes N` as its own process (API server,
// SQLite store, controllers, scheduler and N node agents), then one Deployment of R replicas
// created through the API: seconds from create to all pods available, pods/s, and the process's
// peak memory (VmHWM).
var nodes = Arg("--nodes", 100);
var replicas = Arg("--replicas", 3000);
var dataDir = Directory.CreateTempSubdirectory("orch-bench-").FullName;
int port;
using (var probe = new TcpListener(IPAddress.Loopback, 0))
{
    probe.Start();
    port = ((IPEndPoint)probe.LocalEndpoint).Port;
}

var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "orch.dll"), "up", "--data-dir", dataDir, "--port", port.ToString(CultureInfo.InvariantCulture), "--runtime", "simulated", "--nodes", nodes.ToString(CultureInfo.InvariantCulture) })
{
    start.ArgumentList.Add(arg);
}

using var orch = Process.Start(start) ?? throw new InvalidOperationException("orch did not start");
orch.OutputDataReceived += (_, _) => { };
orch.ErrorDataReceived += (_, _) => { };
orch.BeginOutputReadLine();
orch.BeginErrorReadLine();
try
{
    var kubeconfig = Path.Combine(dataDir, "kubeconfig");
    var clock = Stopwatch.StartNew();
    while (!File.Exists(kubeconfig) && clock.Elapsed < TimeSpan.FromSeconds(60))
    {
        await Task.Delay(200);
    }

    using var client = new RemoteClusterClient(RemoteClusterClientOptions.FromKubeconfig(kubeconfig), ResourceKindTable.CreateDefault());
    var ready = 0;
    while (clock.Elapsed < TimeSpan.FromSeconds(120))
    {
        try
        {
            ready = (await client.ListAsync<V1Node>(null)).Items.Count(n => n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true);
            if (ready == nodes)
            {
                break;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or ClusterApiException)
        {
            // Still starting.
        }

        await Task.Delay(250);
    }

    Console.WriteLine($"control plane: orch up --runtime simulated --nodes {nodes}; {ready} nodes Ready after {clock.Elapsed.TotalSeconds:F1} s; RSS before the Deployment {Memory("VmRSS") / 1024.0:F0} MiB");
    var labels = new Dictionary<string, string> { ["app"] = "bench" };
    await client.CreateAsync(new V1Deployment
    {
        Metadata = new V1ObjectMeta { Name = "bench", NamespaceProperty = "default" },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = labels },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = labels },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox", Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("10m"), ["memory"] = new("16Mi") } } }] },
            },
        },
    });
    var rollout = Stopwatch.StartNew();
    TimeSpan? allCreated = null;
    var available = 0;
    while (rollout.Elapsed < TimeSpan.FromMinutes(15))
    {
        var status = (await client.GetAsync<V1Deployment>("default", "bench")).Status;
        if (allCreated is null && status?.Replicas >= replicas)
        {
            allCreated = rollout.Elapsed;
        }

        available = status?.AvailableReplicas ?? 0;
        if (available >= replicas)
        {
            break;
        }

        await Task.Delay(100);
    }

    var seconds = rollout.Elapsed.TotalSeconds;
    var peak = Memory("VmHWM");
    Console.WriteLine($"deployment of {replicas} replicas: {available} available in {seconds:F1} s ({available / seconds:F0} pods/s); all pods created after {allCreated?.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture) ?? "-"} s");
    Console.WriteLine($"peak memory of the orch process (VmHWM): {peak / 1024.0:F0} MiB");
    return available >= replicas ? 0 : 1;
}
finally
{
    using (var stop = Process.Start("kill", ["-INT", orch.Id.ToString(CultureInfo.InvariantCulture)]))
    {
        await stop.WaitForExitAsync();
    }

    if (!orch.WaitForExit(TimeSpan.FromSeconds(20)))
    {
        orch.Kill(entireProcessTree: true);
    }

    Directory.Delete(dataDir, recursive: true);
}

long Memory(string field)
{
    // /proc/<pid>/status: "VmHWM:   123456 kB".
    var line = File.ReadLines($"/proc/{orch.Id}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
    return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}

int Arg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}
