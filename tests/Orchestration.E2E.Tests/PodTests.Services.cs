using System.Diagnostics;
using System.Text.RegularExpressions;
using Orchestration.TestKit;

namespace Orchestration.E2E.Tests;

/// <summary>Services through the node's network proxy, reached from a pod with busybox's wget.</summary>
public abstract partial class PodTests<TCluster>
{
    private const string ShopManifest = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 3
          selector: {matchLabels: {app: shop-web}}
          template:
            metadata: {labels: {app: shop-web}}
            spec:
              containers:
              - name: httpd
                image: busybox
                command: ["sh", "-c", "mkdir -p /www; echo $(hostname) > /www/index.html; echo ok > /www/ready; exec httpd -f -p 8080 -h /www"]
                ports: [{name: http, containerPort: 8080}]
                readinessProbe:
                  httpGet: {path: /ready, port: http}
                  periodSeconds: 1
                  failureThreshold: 1
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: shop-web}
          ports: [{name: http, port: 80, targetPort: http}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client}
        spec:
          containers:
          - {name: main, image: busybox, command: ["sleep", "3600"]}
        """;

    [Fact]
    public async Task A_cluster_ip_spreads_requests_over_ready_pods_refuses_without_them_and_follows_readiness()
    {
        var ns = $"shop-{Guid.NewGuid().ToString("N")[..6]}";
        (await Kubectl.RunAsync(["create", "namespace", ns])).ExitCode.Should().Be(0);
        var applied = await Kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], ShopManifest);
        applied.ExitCode.Should().Be(0, applied.ToString());
        var rolled = await Kubectl.RunAsync(["rollout", "status", "-n", ns, "deployment/web", "--timeout=120s"], timeout: TimeSpan.FromSeconds(130));
        rolled.ExitCode.Should().Be(0, rolled.ToString());
        (await Kubectl.RunAsync(["wait", "-n", ns, "--for=condition=Ready", "pod/client", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70))).ExitCode.Should().Be(0);
        var clusterIp = (await Kubectl.RunAsync(["get", "service", "web", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).Stdout.Trim();
        var pods = (await Kubectl.RunAsync(["get", "pods", "-n", ns, "-l", "app=shop-web", "-o", "jsonpath={.items[*].metadata.name}"])).Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        pods.Should().HaveCount(3);

        // 30 requests from another pod reach all three backends.
        var answers = await RunInPodAsync(ns, "client", $"for i in $(seq 30); do timeout 5 wget -qO- http://{clusterIp}/ || echo FAILED; done");
        answers.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(30).And.NotContain("FAILED");
        answers.Split('\n', StringSplitOptions.RemoveEmptyEntries).Distinct().Should().BeEquivalentTo(pods, "the Service balances over every ready pod");

        // By name, through the cluster DNS: the short name, with the namespace, and fully qualified.
        (await Kubectl.RunAsync(["get", "service", "kube-dns", "-n", "kube-system", "-o", "jsonpath={.spec.clusterIP}"])).Stdout.Should().Be("10.96.0.10");
        var resolvConf = await RunInPodAsync(ns, "client", "cat /etc/resolv.conf");
        resolvConf.Should().Contain($"search {ns}.svc.cluster.local svc.cluster.local cluster.local").And.Contain("ndots:5");
        if (cluster.RuntimeName == "containerd")
        {
            resolvConf.Should().Contain("nameserver 10.96.0.10", "containerd writes the cluster DNS itself (Docker's resolver in the container forwards to it)");
        }

        foreach (var url in new[] { "http://web/", $"http://web.{ns}/", $"http://web.{ns}.svc.cluster.local:80/" })
        {
            var byName = (await RunInPodAsync(ns, "client", $"timeout 10 wget -qO- {url}")).Trim();
            pods.Should().Contain(byName, $"{url} reaches a pod of the Service");
        }

        var lookup = await RunInPodAsync(ns, "client", $"nslookup web.{ns}.svc.cluster.local");
        lookup.Should().Contain(clusterIp, "the cluster DNS answers the Service's A record");

        // Service variables reach containers started after the Service, as kubelet sets them.
        var envPod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: env-check}
            spec:
              restartPolicy: Never
              containers:
              - {name: main, image: busybox, command: ["sh", "-c", "echo $WEB_SERVICE_HOST:$WEB_SERVICE_PORT:$WEB_SERVICE_PORT_HTTP:$WEB_PORT"]}
            """;
        (await Kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], envPod)).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(async () => (await Kubectl.RunAsync(["logs", "-n", ns, "env-check"])).Stdout.Length > 0, 100, TimeSpan.FromMilliseconds(200))).Should().BeTrue("the pod prints its variables");
        (await Kubectl.RunAsync(["logs", "-n", ns, "env-check"])).Stdout.Trim().Should().Be($"{clusterIp}:80:80:tcp://{clusterIp}:80");

        // kubectl port-forward svc/web picks a pod of the Service and forwards to its target port.
        var local = Orchestration.Testing.Daemons.FreePorts.Next();
        using (var forward = Kubectl.Start("port-forward", "-n", ns, "svc/web", $"{local}:80", "--address", "127.0.0.1"))
        {
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
                string? body = null;
                for (var i = 0; i < 50 && body is null; i++)
                {
                    try
                    {
                        body = await http.GetStringAsync(new Uri($"http://127.0.0.1:{local}/"));
                    }
                    catch (HttpRequestException)
                    {
                        await Task.Delay(200);
                    }
                }

                pods.Should().Contain(body?.Trim(), "the forwarded Service port is a pod's");
            }
            finally
            {
                forward.Kill();
                await forward.WaitForExitAsync();
            }
        }

        // A pod whose readiness fails leaves the rotation, and comes back when it passes again.
        var (sick, healthy) = (pods[0], pods[1..]);
        (await Kubectl.RunAsync(["exec", "-n", ns, sick, "--", "rm", "/www/ready"])).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(async () => !(await AnswersAsync(ns, clusterIp, 12)).Contains(sick), 60, TimeSpan.FromMilliseconds(500)))
            .Should().BeTrue($"{sick} is not ready and leaves the Service");
        (await AnswersAsync(ns, clusterIp, 12)).Distinct().Should().BeSubsetOf(healthy);
        (await Kubectl.RunAsync(["exec", "-n", ns, sick, "--", "sh", "-c", "echo ok > /www/ready"])).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(async () => (await AnswersAsync(ns, clusterIp, 30)).Contains(sick), 60, TimeSpan.FromMilliseconds(500)))
            .Should().BeTrue($"{sick} is ready again and back in the Service");

        // Scaled to zero: refused at once, not a hang.
        (await Kubectl.RunAsync(["scale", "-n", ns, "deployment/web", "--replicas=0"])).ExitCode.Should().Be(0);
        var refused = await Eventually.HoldsAsync(
            async () => (await RunInPodAsync(ns, "client", $"timeout 5 wget -qO- http://{clusterIp}/ 2>&1; echo exit=$?")).Contains("Connection refused", StringComparison.Ordinal),
            60,
            TimeSpan.FromMilliseconds(500));
        refused.Should().BeTrue("with no endpoint the Service refuses connections");
        var watch = Stopwatch.StartNew();
        var answer = await RunInPodAsync(ns, "client", $"timeout 5 wget -qO- http://{clusterIp}/ 2>&1; echo exit=$?");
        watch.Stop();
        answer.Should().Contain("Connection refused");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "refusal comes at once (the exec round trip included)");

        // Back to three: served again.
        (await Kubectl.RunAsync(["scale", "-n", ns, "deployment/web", "--replicas=3"])).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(async () => (await AnswersAsync(ns, clusterIp, 30)).Distinct().Count() == 3, 120, TimeSpan.FromMilliseconds(500)))
            .Should().BeTrue("three new pods serve the Service again");
        (await Kubectl.RunAsync(["delete", "namespace", ns, "--wait=false"])).ExitCode.Should().Be(0);
    }

    private async Task<List<string>> AnswersAsync(string ns, string clusterIp, int count)
    {
        var output = await RunInPodAsync(ns, "client", $"for i in $(seq {count}); do timeout 5 wget -qO- http://{clusterIp}/ || echo FAILED; done");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l != "FAILED").ToList();
    }

    /// <summary>Runs a shell command in the pod and returns its output; fails loudly when a tool in it crashed (busybox wget's segfault is exit 139).</summary>
    private async Task<string> RunInPodAsync(string ns, string pod, string script)
    {
        var result = await Kubectl.RunAsync(["exec", "-n", ns, pod, "--", "sh", "-c", script], timeout: TimeSpan.FromSeconds(200));
        result.ExitCode.Should().NotBe(139, $"a tool crashed in the pod (segfault):\n{result}");
        Regex.IsMatch(result.Stdout + result.Stderr, @"Segmentation fault|exit=139").Should().BeFalse($"a tool crashed in the pod:\n{result}");
        result.ExitCode.Should().Be(0, result.ToString());
        return result.Stdout;
    }
}
