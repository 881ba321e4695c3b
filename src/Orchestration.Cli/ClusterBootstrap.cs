using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Cli;

/// <summary>
/// Creates what every cluster starts with: the namespaces default, kube-system, kube-public and
/// kube-node-lease, and the <c>kubernetes</c> Service at the first address of the service network.
/// </summary>
internal sealed class ClusterBootstrap(ObjectRegistry registry, ClusterBootstrapOptions options, ILogger<ClusterBootstrap> logger) : IHostedService
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

        var service = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = "kubernetes",
                ["labels"] = new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" },
            },
            ["spec"] = new JsonObject
            {
                ["clusterIP"] = registry.ServiceAddresses.FirstAddress.ToString(),
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443, ["targetPort"] = options.ApiPort, ["protocol"] = "TCP" }),
            },
        };
        try
        {
            await registry.CreateAsync(registry.Kinds.Find("", "services")!, "default", service, null, cancellationToken).ConfigureAwait(false);
        }
        catch (AlreadyExistsException)
        {
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>What the bootstrap needs to know about this cluster.</summary>
/// <param name="ApiPort">The API server's port, the target of the kubernetes Service.</param>
internal sealed record ClusterBootstrapOptions(int ApiPort);
