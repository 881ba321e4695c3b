// A worker of its own joining a running cluster (for example `orch up`) through its kubeconfig,
// with two simulated nodes (a real one: reference Orchestration.Runtime.Containerd and
// Orchestration.NodeAgent.Server, then .UseContainerdRuntime(...).AddNodeAgentServer()):
//   dotnet run --project samples/WorkerHost -- --kubeconfig ~/.orch/kubeconfig --node-name edge
using Microsoft.Extensions.Hosting;
using Orchestration.Hosting;

string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

var builder = Host.CreateApplicationBuilder();
builder.Services.AddOrchestrationWorker(node =>
    {
        node.NodeName = Arg("--node-name", "worker-host");
        node.Labels["sample"] = "worker-host";
    })
    .UseKubeconfig(Arg("--kubeconfig", Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".orch", "kubeconfig")))
    .UseSimulatedNodes(2);

using var host = builder.Build();
await host.StartAsync();
Console.WriteLine("worker-host: joined");
await host.WaitForShutdownAsync();
