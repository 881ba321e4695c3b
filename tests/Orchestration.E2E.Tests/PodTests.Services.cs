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
                var body = await PortForwarding.GetAsync(local);
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

    [Fact]
    public async Task Node_ports_headless_names_external_names_client_affinity_and_udp_work_through_the_node()
    {
        var ns = $"names-{Guid.NewGuid().ToString("N")[..6]}";
        (await Kubectl.RunAsync(["create", "namespace", ns])).ExitCode.Should().Be(0);
        var manifest = $$$"""
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: db}
            spec:
              serviceName: db
              replicas: 2
              selector: {matchLabels: {app: db}}
              template:
                metadata: {labels: {app: db}}
                spec:
                  containers:
                  - name: httpd
                    image: busybox
                    command: ["sh", "-c", "mkdir -p /www; echo $(hostname) > /www/index.html; exec httpd -f -p 8080 -h /www"]
                    readinessProbe:
                      tcpSocket: {port: 8080}
                      periodSeconds: 1
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: db}
            spec:
              clusterIP: None
              selector: {app: db}
              ports: [{name: http, port: 8080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: front}
            spec:
              type: NodePort
              selector: {app: db}
              ports: [{port: 80, targetPort: 8080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: sticky}
            spec:
              selector: {app: db}
              sessionAffinity: ClientIP
              ports: [{port: 80, targetPort: 8080}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: elsewhere}
            spec:
              type: ExternalName
              externalName: front.{{{ns}}}.svc.cluster.local
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: echo}
            spec:
              replicas: 2
              selector: {matchLabels: {app: echo}}
              template:
                metadata: {labels: {app: echo}}
                spec:
                  containers:
                  - name: echo
                    image: busybox
                    command: ["udp-echo", "serve", "5353"]
                    ports: [{name: echo, containerPort: 5353, protocol: UDP}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: echo}
            spec:
              selector: {app: echo}
              ports: [{name: echo, port: 53, targetPort: echo, protocol: UDP}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: silent}
            spec:
              selector: {app: nobody}
              ports: [{port: 53, targetPort: 5353, protocol: UDP}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: client}
            spec:
              containers:
              - {name: main, image: busybox, command: ["sleep", "3600"]}
            """;
        var applied = await Kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], manifest);
        applied.ExitCode.Should().Be(0, applied.ToString());
        var rolled = await Kubectl.RunAsync(["rollout", "status", "-n", ns, "statefulset/db", "--timeout=120s"], timeout: TimeSpan.FromSeconds(130));
        rolled.ExitCode.Should().Be(0, rolled.ToString());
        (await Kubectl.RunAsync(["wait", "-n", ns, "--for=condition=Ready", "pod/client", "--timeout=60s"], timeout: TimeSpan.FromSeconds(70))).ExitCode.Should().Be(0);

        // A headless StatefulSet's pods by hostname.subdomain; the headless name to each ready pod.
        var db0 = (await Kubectl.RunAsync(["get", "pod", "db-0", "-n", ns, "-o", "jsonpath={.status.podIP}"])).Stdout.Trim();
        (await Eventually.HoldsAsync(async () => (await RunInPodAsync(ns, "client", $"nslookup db-0.db.{ns}.svc.cluster.local 2>&1 || true")).Contains(db0, StringComparison.Ordinal), 40, TimeSpan.FromMilliseconds(500)))
            .Should().BeTrue("db-0.db resolves to the pod's own IP");
        (await RunInPodAsync(ns, "client", $"timeout 10 wget -qO- http://db-1.db.{ns}.svc.cluster.local:8080/")).Trim().Should().Be("db-1");

        // An ExternalName as a CNAME, here to a Service of the cluster, so it resolves to that Service's IP.
        var front = (await Kubectl.RunAsync(["get", "service", "front", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).Stdout.Trim();
        var external = await RunInPodAsync(ns, "client", $"nslookup elsewhere.{ns}.svc.cluster.local 2>&1 || true");
        external.Should().Contain($"front.{ns}.svc.cluster.local", "the answer is a CNAME to the external name").And.Contain(front);

        // ClientIP affinity keeps one client on one pod.
        var sticky = (await Kubectl.RunAsync(["get", "service", "sticky", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).Stdout.Trim();
        var answers = await AnswersAsync(ns, sticky, 12);
        answers.Should().HaveCount(12);
        answers.Distinct().Should().ContainSingle("ClientIP affinity holds the client to the pod it reached first");

        // A UDP Service: datagrams to its cluster IP reach both pods (each send is a new flow, so a
        // new pick), and the answers come back from the cluster IP; one without endpoints refuses at once.
        var rolledEcho = await Kubectl.RunAsync(["rollout", "status", "-n", ns, "deployment/echo", "--timeout=120s"], timeout: TimeSpan.FromSeconds(130));
        rolledEcho.ExitCode.Should().Be(0, rolledEcho.ToString());
        var echo = (await Kubectl.RunAsync(["get", "service", "echo", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).Stdout.Trim();
        (await Eventually.HoldsAsync(async () => (await RunInPodAsync(ns, "client", $"udp-echo send {echo} 53 first 2 2>&1 || true")).EndsWith(" first\n", StringComparison.Ordinal), 40, TimeSpan.FromMilliseconds(500)))
            .Should().BeTrue("the UDP Service answers once its endpoints are programmed");
        var echoes = (await RunInPodAsync(ns, "client", $"for i in $(seq 20); do udp-echo send {echo} 53 ping 3 || echo FAILED; done")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        echoes.Should().HaveCount(20).And.OnlyContain(l => l.StartsWith("echo-", StringComparison.Ordinal) && l.EndsWith(" ping", StringComparison.Ordinal), "every datagram is answered by a pod of the Service");
        echoes.Select(l => l.Split(' ')[0]).Distinct().Should().HaveCount(2, "new flows are spread over both pods");
        var silent = (await Kubectl.RunAsync(["get", "service", "silent", "-n", ns, "-o", "jsonpath={.spec.clusterIP}"])).Stdout.Trim();
        var watch = Stopwatch.StartNew();
        var refused = await RunInPodAsync(ns, "client", $"udp-echo send {silent} 53 ping 5 2>&1; echo exit=$?");
        refused.Should().Contain("Connection refused").And.Contain("exit=1", "a UDP Service without endpoints is rejected with an ICMP error, not left to time out");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5), "the refusal comes before the client's 5 s timeout");

        // A node port from outside the pod network: a namespace of the test's own, linked to the node's.
        var nodePort = (await Kubectl.RunAsync(["get", "service", "front", "-n", ns, "-o", "jsonpath={.spec.ports[0].nodePort}"])).Stdout.Trim();
        var nodeNamespace = File.ReadAllText(Path.Combine(cluster.Orch.DataDir, cluster.RuntimeName, "netns")).Trim();
        var outside = $"orch-out-{Guid.NewGuid().ToString("N")[..6]}";
        var link = $"out{Guid.NewGuid().ToString("N")[..6]}";
        try
        {
            await Ip("netns", "add", outside);
            await Ip("link", "add", link, "netns", outside, "type", "veth", "peer", "name", link + "n", "netns", nodeNamespace);
            await Ip("-n", outside, "address", "add", "192.168.213.2/30", "dev", link);
            await Ip("-n", outside, "link", "set", link, "up");
            await Ip("-n", nodeNamespace, "address", "add", "192.168.213.1/30", "dev", link + "n");
            await Ip("-n", nodeNamespace, "link", "set", link + "n", "up");
            var reached = await Orchestration.Runtime.Linux.ProcessRunner.RunAsync("ip", ["netns", "exec", outside, "timeout", "10", "wget", "-qO-", $"http://192.168.213.1:{nodePort}/"], CancellationToken.None);
            reached.ExitCode.Should().NotBe(139, "busybox wget crashed");
            reached.ExitCode.Should().Be(0, reached.Output);
            reached.Output.Trim().Should().BeOneOf("db-0", "db-1");
        }
        finally
        {
            await Orchestration.Runtime.Linux.ProcessRunner.RunAsync("ip", ["-n", nodeNamespace, "link", "delete", link + "n"], CancellationToken.None);
            await Orchestration.Runtime.Linux.ProcessRunner.RunAsync("ip", ["netns", "delete", outside], CancellationToken.None);
        }

        (await Kubectl.RunAsync(["delete", "namespace", ns, "--wait=false"])).ExitCode.Should().Be(0);
    }

    private static Task Ip(params string[] arguments) => Orchestration.Runtime.Linux.ProcessRunner.RunCheckedAsync("ip", arguments, CancellationToken.None);

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
