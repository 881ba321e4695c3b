using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.Hosting;

/// <summary>
/// Creates what every cluster starts with, as kube-apiserver's bootstrap does: the namespaces
/// default, kube-system, kube-public and kube-node-lease, and the <c>kubernetes</c> Service at the
/// first address of the service network. A restart on the same store finds them there and keeps them.
/// </summary>
public sealed partial class ClusterBootstrap(ObjectRegistry registry, IOptions<ClusterBootstrapOptions> options, ILogger<ClusterBootstrap> logger) : IHostedService
{
    /// <summary>The namespaces every cluster has.</summary>
    public static IReadOnlyList<string> SystemNamespaces { get; } = ["default", "kube-system", "kube-public", "kube-node-lease"];

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var kind = registry.Kinds.Find("", "namespaces")!;
        foreach (var name in SystemNamespaces)
        {
            try
            {
                await registry.CreateAsync(kind, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = name } }, null, cancellationToken).ConfigureAwait(false);
                LogNamespaceCreated(name);
            }
            catch (AlreadyExistsException)
            {
                // A restart on the same store: it is there already.
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
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443, ["targetPort"] = options.Value.ApiServerPort, ["protocol"] = "TCP" }),
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

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Created namespace {Namespace}")]
    private partial void LogNamespaceCreated(string @namespace);
}
