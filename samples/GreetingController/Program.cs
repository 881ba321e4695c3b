// The Greeting controller as its own process against an API server:
//   dotnet run --project samples/GreetingController -- --kubeconfig ~/.orch/kubeconfig
// It applies its CRD when the cluster lacks it, then reconciles Greetings under leader election.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orchestration.Client;
using Orchestration.Hosting;
using Orchestration.Samples.GreetingController;

var kubeconfig = args.SkipWhile(a => a != "--kubeconfig").Skip(1).FirstOrDefault()
    ?? Environment.GetEnvironmentVariable("KUBECONFIG")
    ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".orch", "kubeconfig");
var builder = Host.CreateApplicationBuilder();
builder.Services.AddOrchestrationClient().UseKubeconfig(kubeconfig);
builder.Services.AddGreetingController();
using var host = builder.Build();
await CustomResourceDefinitionInstaller.EnsureAsync(host.Services.GetRequiredService<IClusterClient>(), Path.Combine(AppContext.BaseDirectory, "greeting-crd.yaml"));
Console.WriteLine("greeting-controller: running");
await host.RunAsync();
