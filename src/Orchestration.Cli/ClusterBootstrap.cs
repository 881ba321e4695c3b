using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Cli;

/// <summary>Creates what every cluster starts with: the namespaces default, kube-system, kube-public and kube-node-lease.</summary>
internal sealed class ClusterBootstrap(ObjectRegistry registry, ILogger<ClusterBootstrap> logger) : IHostedService
{
    private static readonly string[] Namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var kind = registry.Kinds.Find("", "namespaces")!;
        foreach (var name in Namespaces)
        {
            try
            {
                await registry.CreateAsync(kind, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = name } }, null, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Created namespace {Namespace}", name);
            }
            catch (AlreadyExistsException)
            {
                // A restart on the same data directory: it is there already.
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
