using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Client;
using Orchestration.Events;
using Orchestration.NodeAgent;
using Orchestration.NodeAgent.Server;
using Orchestration.Runtime.Containerd;

namespace Orchestration.Cli;

/// <summary>
/// <c>orch up --runtime containerd</c>: one node of this machine whose agent runs real containers,
/// over a containerd of its own (in its own network namespace, under the data directory) or one
/// given by socket. Stopping <c>orch</c> stops what it started.
/// </summary>
internal sealed class ContainerdNode(IClusterClient client, ContainerdNodeOptions options, EventRecorder events, TimeProvider timeProvider, ILoggerFactory loggers) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var logger = loggers.CreateLogger<ContainerdNode>();
        ContainerdHost? host = null;
        try
        {
            ContainerdRuntimeOptions runtimeOptions;
            if (options.Socket is { } socket)
            {
                runtimeOptions = new ContainerdRuntimeOptions { SocketPath = socket, PodLogDirectory = Path.Combine(options.DataDirectory, "pods") };
            }
            else
            {
                var hostOptions = new ContainerdHostOptions { DataDirectory = options.DataDirectory };
                if (options.ImageArchive is { } archive)
                {
                    hostOptions.ImageArchives.Add(archive);
                }

                host = await ContainerdHost.StartAsync(Options.Create(hostOptions), timeProvider, loggers.CreateLogger<ContainerdHost>(), stoppingToken).ConfigureAwait(false);
                runtimeOptions = host.RuntimeOptions;
                logger.LogInformation("containerd runs in network namespace {Namespace} with its socket at {Socket}", host.NetworkNamespace, host.SocketPath);
            }

            await using var runtime = new ContainerdRuntime(Options.Create(runtimeOptions), timeProvider, loggers.CreateLogger<ContainerdRuntime>());
            await runtime.ConnectAsync(TimeSpan.FromSeconds(30), stoppingToken).ConfigureAwait(false);
            await using var server = await NodeAgentServer.StartAsync(runtime, new NodeAgentServerOptions(), timeProvider, loggers.CreateLogger<NodeAgentServer>(), stoppingToken).ConfigureAwait(false);
            var agentOptions = new NodeAgentOptions { NodeName = options.NodeName, RootDirectory = Path.Combine(options.DataDirectory, "kubelet"), InternalIP = server.EndPoint!.Address.ToString(), ServerPort = server.EndPoint.Port };
            var agent = new NodeAgent.NodeAgent(client, runtime, agentOptions, timeProvider, loggers.CreateLogger<NodeAgent.NodeAgent>(), runtime, events);
            await agent.RunUntilStoppedAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            if (host is not null)
            {
                await host.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>The containerd node of <c>orch up</c>.</summary>
/// <param name="NodeName">The node's name.</param>
/// <param name="DataDirectory">Where its containerd keeps root, state, socket and pod logs, and its agent the pods' volumes (<c>kubelet/</c>).</param>
/// <param name="Socket">An existing containerd's socket to use instead of starting one.</param>
/// <param name="ImageArchive">The image tarball to import into a started containerd.</param>
internal sealed record ContainerdNodeOptions(string NodeName, string DataDirectory, string? Socket, string? ImageArchive);
