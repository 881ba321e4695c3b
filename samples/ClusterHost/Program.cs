// A master and a worker of three simulated nodes in one generic host, served to the real kubectl:
//   dotnet run --project samples/ClusterHost -- --data-dir /tmp/my-cluster --port 6443
//   KUBECONFIG=/tmp/my-cluster/kubeconfig kubectl create deployment web --image=busybox --replicas=3
using Microsoft.Extensions.Hosting;
using Orchestration.ApiServer.Hosting;
using Orchestration.Hosting;
using Orchestration.State.Sqlite.Hosting;

string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
var dataDir = Path.GetFullPath(Arg("--data-dir", "cluster-data"));

var builder = Host.CreateApplicationBuilder();
builder.Services.AddOrchestrationMaster()
    .UseSqliteStateStore(Path.Combine(dataDir, "state"))
    .AddApiServer(api =>
    {
        api.Port = int.Parse(Arg("--port", "6443"), System.Globalization.CultureInfo.InvariantCulture);
        api.CertificateDirectory = Path.Combine(dataDir, "pki");
        api.AdminKubeconfigPath = Path.Combine(dataDir, "kubeconfig");
    });
builder.Services.AddOrchestrationWorker(node => node.NodeName = "sample-node")
    .UseSimulatedNodes(3);

using var host = builder.Build();
await host.StartAsync();
Console.WriteLine($"cluster-host: ready; export KUBECONFIG={Path.Combine(dataDir, "kubeconfig")}");
await host.WaitForShutdownAsync();
