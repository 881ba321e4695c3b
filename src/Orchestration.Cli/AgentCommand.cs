using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Cli;

/// <summary><c>orch agent</c>: a worker that joins a running cluster: node agents talking to its API server through a kubeconfig.</summary>
internal static class AgentCommand
{
    public static Command Create()
    {
        var kubeconfig = new Option<string>("--kubeconfig") { Description = "The kubeconfig of the cluster to join.", Required = true };
        var nodeName = new Option<string>("--node-name") { Description = "The node's name (with --nodes N > 1, a prefix: NAME-0, NAME-1, ...).", DefaultValueFactory = _ => Environment.MachineName.ToLowerInvariant() };
        var runtime = new Option<string>("--runtime") { Description = "The node runtime: simulated (node agents without containers).", DefaultValueFactory = _ => "simulated" };
        runtime.AcceptOnlyFromAmong("simulated");
        var nodes = new Option<int>("--nodes") { Description = "How many simulated nodes this worker runs.", DefaultValueFactory = _ => 1 };
        var lease = Durations.Option("--node-lease-duration", "How long a node's Lease holds (renewed every quarter of it).", TimeSpan.FromSeconds(40));
        var command = new Command("agent", "Join a cluster as a worker: run node agents against its API server.") { kubeconfig, nodeName, runtime, nodes, lease };
        command.SetAction((parse, cancellationToken) => RunAsync(
            Path.GetFullPath(parse.GetValue(kubeconfig)!),
            parse.GetValue(nodeName)!,
            Math.Max(1, parse.GetValue(nodes)),
            parse.GetValue(lease),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string kubeconfig, string nodeName, int nodes, TimeSpan leaseDuration, CancellationToken cancellationToken)
    {
        if (!File.Exists(kubeconfig))
        {
            await Console.Error.WriteLineAsync($"orch: no kubeconfig at {kubeconfig}").ConfigureAwait(false);
            return 2;
        }

        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(_ => ResourceKindTable.CreateDefault());
        builder.Services.AddSingleton<IClusterClient>(sp => new RemoteClusterClient(RemoteClusterClientOptions.FromKubeconfig(kubeconfig), sp.GetRequiredService<ResourceKindTable>(), sp.GetRequiredService<ILogger<RemoteClusterClient>>()));
        builder.Services.AddSingleton(new SimulatedNodesOptions(nodes, nodeName, leaseDuration, NumberSingle: false));
        builder.Services.AddHostedService<SimulatedNodes>();
        using var host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine($"orch: worker {nodeName} ({nodes} node(s)) joined the cluster of {kubeconfig}");
        await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine("orch: worker stopped");
        return 0;
    }
}
