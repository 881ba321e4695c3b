using System.Net;
using System.Security.Cryptography.X509Certificates;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary><c>orch up</c> itself: its namespaces, HTTPS with client certificates, a clean stop, and a restart that keeps everything.</summary>
[Trait("Category", "E2E")]
public sealed class OrchUpTests
{
    [Fact]
    public async Task A_restart_on_the_same_data_dir_keeps_everything_and_ctrl_c_stops_cleanly()
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-restart-").FullName;
        try
        {
            var kubectl = new Kubectl(Kubectl.Versions[0], Path.Combine(dataDir, "kubeconfig"));
            int exitCode;
            await using (var first = await OrchProcess.StartAsync(dataDir))
            {
                var namespaces = await kubectl.RunAsync("get namespaces -o name");
                namespaces.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().BeEquivalentTo("namespace/default", "namespace/kube-system", "namespace/kube-public", "namespace/kube-node-lease");
                (await kubectl.RunAsync(["apply", "-f", "-"], Manifests.App)).ExitCode.Should().Be(0);
                exitCode = await first.StopAsync();
                first.Output.Should().Contain("orch: stopped");
                first.IsListening().Should().BeFalse();
            }

            await using var second = await OrchProcess.StartAsync(dataDir);
            var kept = await kubectl.RunAsync(["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]);

            exitCode.Should().Be(0, "Ctrl-C (SIGINT) stops orch cleanly");
            kept.Stdout.Should().Be("2", kept.ToString());
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task Https_is_the_default_and_a_request_without_credentials_gets_401()
    {
        await using var orch = await OrchProcess.StartAsync();
        try
        {
            var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(orch.DataDir, "pki", "ca.crt")));
            using var handler = new HttpClientHandler
            {
                ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(certificate!);
                },
            };
            using var http = new HttpClient(handler) { BaseAddress = new Uri($"https://127.0.0.1:{orch.Port}") };

            var anonymous = await http.GetAsync("/api/v1/namespaces");
            var health = await http.GetAsync("/healthz");

            anonymous.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            (await anonymous.Content.ReadAsStringAsync()).Should().Contain("\"kind\":\"Status\"").And.Contain("\"code\":401");
            health.StatusCode.Should().Be(HttpStatusCode.OK, "probes stay open, as on Kubernetes");
            File.ReadAllText(orch.Kubeconfig).Should().Contain("certificate-authority-data").And.Contain("client-certificate-data").And.Contain($"https://127.0.0.1:{orch.Port}");
        }
        finally
        {
            await orch.DisposeAsync();
            Directory.Delete(orch.DataDir, recursive: true);
        }
    }

    [Theory]
    [InlineData("--cluster-cidr 10.0.0.0/33", "orch: --cluster-cidr 10.0.0.0/33 with --node-cidr-mask-size 24: NodeIpamOptions.ClusterCidr \"10.0.0.0/33\" is not an IPv4 CIDR")]
    [InlineData("--cluster-cidr 10.0.0.0/16 --node-cidr-mask-size 8", "orch: --cluster-cidr 10.0.0.0/16 with --node-cidr-mask-size 8: NodeIpamOptions.NodeCidrMaskSize 8 does not fit in 10.0.0.0/16")]
    [InlineData("--bind-address nowhere", "orch: --bind-address \"nowhere\" is not an IP address")]
    public async Task Orch_up_refuses_a_bad_option_with_the_flag_and_exit_code_2_and_no_stack_trace(string arguments, string message)
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-badopt-").FullName;
        try
        {
            var result = await OrchProcess.RunToExitAsync(TimeSpan.FromSeconds(30), ["up", "--runtime", "none", "--data-dir", dataDir, .. arguments.Split(' ')]);

            result.ExitCode.Should().Be(2, result.ToString());
            result.Stderr.Should().Contain(message);
            (result.Stderr + result.Stdout).Should().NotContain("   at ", "the reason is one line, not a stack trace").And.NotContain("serving at");
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
