using System.Diagnostics;
using k8s.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Hosting;
using Orchestration.Samples.GreetingController;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>The sample custom controller: in a master composed with the builder, and as its own process against orch up.</summary>
[Collection(OrchClusterCollection.Name)]
[Trait("Category", "E2E")]
public sealed class GreetingControllerTests(OrchCluster cluster)
{
    [Fact]
    public async Task In_a_master_of_ones_own_the_reconciler_publishes_the_message_and_reports_it()
    {
        // A master of one's own with the sample's controller in its controller manager.
        var services = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddOrchestrationMaster().AddGreetingController();
        services.Configure<ControllerManagerOptions>(o => o.LeaderElection = false);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IClusterClient>();
        var hosted = provider.GetServices<IHostedService>().ToList();
        foreach (var service in hosted)
        {
            await service.StartAsync(CancellationToken.None);
        }

        try
        {
            await client.CreateAsync(new Greeting { Metadata = new V1ObjectMeta { Name = "hello", NamespaceProperty = "default" }, Spec = new GreetingSpec { Message = "hi" } });
            V1ConfigMap? map = null;
            for (var i = 0; i < 200 && map is null; i++)
            {
                await Task.Delay(25);
                map = (await client.ListAsync<V1ConfigMap>("default")).Items.FirstOrDefault(m => m.Metadata.Name == "hello-greeting");
            }

            map.Should().NotBeNull();
            map!.Data["message"].Should().Be("hi");
            map.Metadata.OwnerReferences.Single().Kind.Should().Be("Greeting");
            Greeting? reported = null;
            for (var i = 0; i < 200 && reported?.Status?.ConfigMap is null; i++)
            {
                await Task.Delay(25);
                reported = await client.GetAsync<Greeting>("default", "hello");
            }

            reported!.Status!.ConfigMap.Should().Be("hello-greeting");
        }
        finally
        {
            foreach (var service in hosted)
            {
                await service.StopAsync(CancellationToken.None);
            }
        }
    }

    [Fact]
    public async Task As_its_own_process_it_reconciles_greetings_applied_with_kubectl()
    {
        var kubectl = cluster.Kubectl(Kubectl.Versions[0]);
        var ns = await cluster.NamespaceAsync(kubectl);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { SampleAssembly(), "--kubeconfig", cluster.Orch.Kubeconfig })
        {
            start.ArgumentList.Add(arg);
        }

        using var controller = Process.Start(start)!;
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        controller.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        controller.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? "");
        controller.BeginOutputReadLine();
        controller.BeginErrorReadLine();
        try
        {
            CommandResult? applied = null;
            for (var i = 0; i < 100; i++)
            {
                // The controller installs its CRD at start: apply once the kind is served.
                applied = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], "apiVersion: samples.orchestration.dev/v1\nkind: Greeting\nmetadata:\n  name: hello\nspec:\n  message: hello, world\n");
                if (applied.ExitCode == 0)
                {
                    break;
                }

                await Task.Delay(200);
            }

            applied!.ExitCode.Should().Be(0, applied + string.Join('\n', output));
            CommandResult message = new(1, "", "");
            for (var i = 0; i < 100 && message.Stdout != "hello, world"; i++)
            {
                await Task.Delay(100);
                message = await kubectl.RunAsync(["get", "configmap", "hello-greeting", "-n", ns, "-o", "jsonpath={.data.message}"]);
            }

            message.Stdout.Should().Be("hello, world", string.Join('\n', output));
            var table = await kubectl.RunAsync($"get greetings -n {ns}");
            table.Stdout.Should().MatchRegex(@"NAME\s+MESSAGE\s+CONFIGMAP\s+AGE").And.MatchRegex(@"hello\s+hello, world\s+hello-greeting");
        }
        finally
        {
            controller.Kill(entireProcessTree: true);
            await controller.WaitForExitAsync();
        }
    }

    /// <summary>
    /// The sample as built in its own output directory: run from there it finds its own
    /// dependencies (the test's directory holds a web host's, which differ).
    /// </summary>
    internal static string SampleAssembly(string project = "GreetingController")
    {
        var testDir = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = testDir.Parent!.Name;
        var root = testDir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Orchestration.sln")))
        {
            root = root.Parent;
        }

        var path = Path.Combine(root!.FullName, "samples", project, "bin", configuration, testDir.Name, $"{project}.dll");
        File.Exists(path).Should().BeTrue($"the sample is built with the tests ({path})");
        return path;
    }
}
