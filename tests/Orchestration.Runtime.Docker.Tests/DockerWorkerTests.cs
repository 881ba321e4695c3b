using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Hosting;
using Orchestration.NodeAgent.Server.Hosting;
using Orchestration.Runtime.Docker.Hosting;

namespace Orchestration.Runtime.Docker.Tests;

/// <summary>A worker composed with the worker builder, <c>UseDockerRuntime()</c> and <c>AddNodeAgentServer()</c>, runs pods on real Docker.</summary>
[Trait("Category", "Integration")]
public sealed class DockerWorkerTests
{
    [Fact]
    public async Task A_worker_composed_with_UseDockerRuntime_registers_its_node_and_runs_a_pod_bound_to_it()
    {
        await using var docker = await DockerFixture.StartHostAsync();
        var root = Directory.CreateTempSubdirectory("orch-worker-").FullName;
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();

        // The cluster is in process here; a real worker registers a RemoteClusterClient from its kubeconfig instead.
        builder.Services.AddOrchestrationState();
        builder.Services.AddOrchestrationWorker(o =>
            {
                o.NodeName = "docker-worker";
                o.RootDirectory = root;
            })
            .UseDockerRuntime(o =>
            {
                o.SocketPath = docker.RuntimeOptions.SocketPath;
                o.NetworkNamespacePath = docker.RuntimeOptions.NetworkNamespacePath;
            })
            .AddNodeAgentServer();
        using var app = builder.Build();
        var client = app.Services.GetRequiredService<IClusterClient>();
        await client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "default" } });
        await app.StartAsync();
        try
        {
            var node = await EventuallyAsync(() => client.GetAsync<V1Node>(null, "docker-worker"), n => n.Status?.NodeInfo is not null, "the node registers");
            node.Status.NodeInfo.ContainerRuntimeVersion.Should().StartWith("docker://");
            node.Status.DaemonEndpoints.KubeletEndpoint.Port.Should().BeGreaterThan(0, "the agent's server for logs and exec is up");

            // Node IPAM's part in a cluster.
            node.Spec ??= new V1NodeSpec();
            node.Spec.PodCIDR = "10.246.3.0/24";
            await client.UpdateAsync(node);

            await client.CreateAsync(new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = "sleeper", NamespaceProperty = "default" },
                Spec = new V1PodSpec { NodeName = "docker-worker", Containers = [new V1Container { Name = "main", Image = "busybox", Command = ["sleep", "3600"] }] },
            });
            var pod = await EventuallyAsync(() => client.GetAsync<V1Pod>("default", "sleeper"), p => p.Status?.Phase == "Running", "the pod runs on Docker");
            pod.Status.PodIP.Should().StartWith("10.246.3.", "the pod's IP comes from the node's pod CIDR");
            pod.Status.ContainerStatuses.Single().ContainerID.Should().StartWith("docker://");
        }
        finally
        {
            await client.DeleteAsync<V1Pod>("default", "sleeper", new DeleteOptions { GracePeriodSeconds = 0 });
            var runtime = (DockerRuntime)app.Services.GetRequiredService<INodeRuntime>();
            await EventuallyAsync(() => runtime.ListPodSandboxesAsync(CancellationToken.None), sandboxes => sandboxes.Count == 0, "the pod's sandbox goes with it");
            await app.StopAsync();
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> condition, string because)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        T value = default!;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                value = await read();
                if (condition(value))
                {
                    return value;
                }
            }
            catch (NotFoundException)
            {
                // Not there yet.
            }

            await Task.Delay(200);
        }

        throw new Xunit.Sdk.XunitException($"{because}: not within 60 s (last: {value})");
    }
}
