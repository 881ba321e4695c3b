using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Options;

namespace Orchestration.Runtime.Docker.Tests;

/// <summary>What Docker does for pods that only a real runtime can show: shared namespaces, limits, files, ports, logs.</summary>
[Trait("Category", "Integration")]
[Collection(DockerCollection.Name)]
public sealed class DockerRuntimeTests(DockerFixture docker) : IAsyncLifetime
{
    private const string PodCidr = "10.244.7.0/24";
    private readonly List<string> _sandboxes = [];

    private DockerRuntime Runtime => docker.Runtime;

    public async Task InitializeAsync() => await Runtime.UpdateRuntimeConfigAsync(PodCidr, CancellationToken.None);

    public async Task DisposeAsync()
    {
        foreach (var id in _sandboxes)
        {
            await Runtime.StopPodSandboxAsync(id, CancellationToken.None);
            await Runtime.RemovePodSandboxAsync(id, CancellationToken.None);
        }
    }

    [Fact]
    public void The_version_names_docker_and_the_engine_version()
    {
        Runtime.Version.Should().MatchRegex(@"^docker://\d+\.\d+\.\d+$");
    }

    [Fact]
    public async Task The_runtime_and_its_network_report_ready_once_the_pod_network_exists()
    {
        var conditions = await Runtime.GetConditionsAsync(CancellationToken.None);

        conditions.Should().Contain(c => c.Type == RuntimeCondition.RuntimeReady && c.Status);
        conditions.Should().Contain(c => c.Type == RuntimeCondition.NetworkReady && c.Status);
    }

    [Fact]
    public async Task Two_containers_of_one_pod_share_localhost_and_the_pod_ip()
    {
        var sandbox = await SandboxAsync("shared");
        var server = await RunAsync(sandbox, "server", ["sh", "-c", "mkdir -p /tmp/www && echo from-the-server > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www"]);
        var client = await RunAsync(sandbox, "client", ["sleep", "3600"]);

        var fetched = await EventuallyAsync(() => Runtime.ExecSyncAsync(client, ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"], TimeSpan.FromSeconds(5), CancellationToken.None), r => r.ExitCode == 0);
        var serverIp = await Runtime.ExecSyncAsync(server, ["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"], TimeSpan.FromSeconds(5), CancellationToken.None);
        var clientIp = await Runtime.ExecSyncAsync(client, ["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"], TimeSpan.FromSeconds(5), CancellationToken.None);

        fetched.Output.Should().Contain("from-the-server", "the client reached the server's 127.0.0.1 listener, so they share a network namespace");
        serverIp.Output.Trim().Should().Be(clientIp.Output.Trim()).And.StartWith(sandbox.Ip + "/");
        IPNetwork.Parse(PodCidr).Contains(IPAddress.Parse(sandbox.Ip)).Should().BeTrue($"{sandbox.Ip} comes from {PodCidr}");
    }

    [Fact]
    public async Task A_container_naming_an_image_dockerd_does_not_hold_is_ImageNotPresent()
    {
        var sandbox = await SandboxAsync("missing");

        var create = () => Runtime.CreateContainerAsync(sandbox.Id, Container("app", ["true"]) with { Image = "orchestration.local/absent" }, CancellationToken.None);

        (await create.Should().ThrowAsync<ImageNotPresentException>()).Which.ResolvedImage.Should().Be("orchestration.local/absent:latest");
    }

    [Fact]
    public async Task A_container_above_its_memory_limit_is_OOMKilled()
    {
        var sandbox = await SandboxAsync("oom");
        var config = Container("hog", ["sh", "-c", "x=$(yes | head -c 100000000)"]) with { Resources = new ContainerResources(MemoryLimitInBytes: 20 * 1024 * 1024) };
        var id = await Runtime.CreateContainerAsync(sandbox.Id, config, CancellationToken.None);
        await Runtime.StartContainerAsync(id, CancellationToken.None);

        var exited = await WaitForAsync(id, s => s.State == ContainerState.Exited);

        exited.Reason.Should().Be("OOMKilled");
        exited.ExitCode.Should().Be(137);
    }

    [Fact]
    public async Task The_process_sees_its_environment_working_directory_and_bind_mounts_and_its_output_is_in_the_log_file()
    {
        var node = Directory.CreateTempSubdirectory("orch-docker-mount-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(node, "file.txt"), "from-the-node");
            var sandbox = await SandboxAsync("files");
            var config = Container("app", ["sh", "-c", "echo \"$GREETING in $(pwd)\"; cat /config/file.txt; echo; if touch /config/new 2>/dev/null; then echo writable; else echo read-only; fi; sleep 3600"]) with
            {
                WorkingDirectory = "/work",
                Mounts = [new ContainerMount("/config", node, ReadOnly: true)],
            };
            var id = await Runtime.CreateContainerAsync(sandbox.Id, config, CancellationToken.None);
            await Runtime.StartContainerAsync(id, CancellationToken.None);

            var running = await WaitForAsync(id, s => s.State == ContainerState.Running);
            running.LogPath.Should().NotBeNull();
            var log = await EventuallyAsync(() => ReadSharedAsync(running.LogPath!), text => text.Contains("read-only", StringComparison.Ordinal) || text.Contains("writable", StringComparison.Ordinal));

            log.Should().Contain("\"log\":\"hello in /work\\n\"").And.Contain("from-the-node").And.Contain("\"log\":\"read-only\\n\"").And.Contain("\"stream\":\"stdout\"");
            File.Exists(Path.Combine(node, "new")).Should().BeFalse();
        }
        finally
        {
            Directory.Delete(node, recursive: true);
        }
    }

    [Fact]
    public async Task Command_replaces_the_entrypoint_and_args_alone_replace_the_images_cmd()
    {
        var sandbox = await SandboxAsync("entry");

        // The sandbox image's cmd is `sleep 2147483647`: args alone run under its (empty) entrypoint.
        var argsOnly = await Runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("args", "orchestration.local/sandbox:1", [], ["sh", "-c", "exit 7"], new Dictionary<string, string>()), CancellationToken.None);
        var both = await Runtime.CreateContainerAsync(sandbox.Id, new ContainerConfig("both", "busybox", ["sh", "-c"], ["exit 9"], new Dictionary<string, string>()), CancellationToken.None);
        await Runtime.StartContainerAsync(argsOnly, CancellationToken.None);
        await Runtime.StartContainerAsync(both, CancellationToken.None);

        (await WaitForAsync(argsOnly, s => s.State == ContainerState.Exited)).ExitCode.Should().Be(7);
        (await WaitForAsync(both, s => s.State == ContainerState.Exited)).ExitCode.Should().Be(9);
    }

    [Fact]
    public async Task A_host_port_is_reachable_inside_dockerds_namespace_and_probes_reach_the_pod_ip()
    {
        var config = new PodSandboxConfig("docker", "hostport", Guid.NewGuid().ToString()) { PortMappings = [new PortMapping("TCP", 8080, 18090)] };
        var sandbox = await Runtime.RunPodSandboxAsync(config, CancellationToken.None);
        _sandboxes.Add(sandbox.Id);
        await RunAsync(sandbox, "web", ["sh", "-c", "mkdir -p /tmp/www && echo through-the-host-port > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]);

        var body = await EventuallyAsync(() => GetAsync("127.0.0.1", 18090), text => text.Contains("through-the-host-port", StringComparison.Ordinal));
        var probe = await Runtime.ProbeAsync(new NetworkProbe("web", sandbox.Ip, 8080, "/", "HTTP", new Dictionary<string, string>()), TimeSpan.FromSeconds(5), CancellationToken.None);
        var closed = await Runtime.ProbeAsync(new NetworkProbe("web", sandbox.Ip, 8081, null, "HTTP", new Dictionary<string, string>()), TimeSpan.FromSeconds(5), CancellationToken.None);

        body.Should().Contain("through-the-host-port");
        probe.Success.Should().BeTrue(probe.Output);
        closed.Success.Should().BeFalse();
    }

    [Fact]
    public async Task A_new_client_rebuilds_sandboxes_and_containers_from_dockerd_alone()
    {
        var sandbox = await SandboxAsync("adopt");
        var labels = new Dictionary<string, string> { ["io.kubernetes.container.name"] = "app", ["team"] = "blue" };
        var id = await Runtime.CreateContainerAsync(sandbox.Id, Container("app", ["sleep", "3600"], attempt: 3, labels: labels), CancellationToken.None);
        await Runtime.StartContainerAsync(id, CancellationToken.None);
        var before = await WaitForAsync(id, s => s.State == ContainerState.Running);

        using var restarted = new DockerRuntime(Options.Create(docker.Host.RuntimeOptions));
        var sandboxes = await restarted.ListPodSandboxesAsync(CancellationToken.None);
        var containers = await restarted.ListContainersAsync(sandbox.Id, CancellationToken.None);

        sandboxes.Should().ContainSingle(s => s.Id == sandbox.Id).Which.Should().BeEquivalentTo(sandbox);
        containers.Should().ContainSingle().Which.Should().BeEquivalentTo(before);
        before.Attempt.Should().Be(3);
        before.Image.Should().Be("busybox");
        before.Labels.Should().Equal(labels);
    }

    [Fact]
    public async Task ExecSync_past_its_timeout_throws_TimeoutException()
    {
        var sandbox = await SandboxAsync("exec-timeout");
        var id = await RunAsync(sandbox, "app", ["sleep", "3600"]);

        var exec = () => Runtime.ExecSyncAsync(id, ["sleep", "30"], TimeSpan.FromSeconds(1), CancellationToken.None);

        await exec.Should().ThrowAsync<TimeoutException>();
    }

    private async Task<PodSandbox> SandboxAsync(string name)
    {
        var sandbox = await Runtime.RunPodSandboxAsync(new PodSandboxConfig("docker", name, Guid.NewGuid().ToString()), CancellationToken.None);
        _sandboxes.Add(sandbox.Id);
        return sandbox;
    }

    private async Task<string> RunAsync(PodSandbox sandbox, string name, IReadOnlyList<string> command)
    {
        var id = await Runtime.CreateContainerAsync(sandbox.Id, Container(name, command), CancellationToken.None);
        await Runtime.StartContainerAsync(id, CancellationToken.None);
        await WaitForAsync(id, s => s.State == ContainerState.Running);
        return id;
    }

    private static ContainerConfig Container(string name, IReadOnlyList<string> command, int attempt = 0, IReadOnlyDictionary<string, string>? labels = null) =>
        new(name, "busybox", command, [], new Dictionary<string, string> { ["GREETING"] = "hello" }, attempt, labels);

    private async Task<ContainerStatus> WaitForAsync(string id, Func<ContainerStatus, bool> condition) =>
        await EventuallyAsync(async () => (await Runtime.ListContainersAsync(null, CancellationToken.None)).Single(c => c.Id == id), condition);

    // An HTTP/1.0 GET over a socket made inside dockerd's namespace: host ports only exist there.
    private async Task<string> GetAsync(string host, int port)
    {
        try
        {
            using var socket = await Runtime.ConnectInNamespaceAsync(host, port, CancellationToken.None);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n"));
            using var reader = new StreamReader(stream);
            return await reader.ReadToEndAsync();
        }
        catch (SocketException ex)
        {
            return ex.Message;
        }
    }

    private static async Task<string> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var value = await read();
            if (condition(value) || DateTime.UtcNow > deadline)
            {
                return value;
            }

            await Task.Delay(100);
        }
    }
}
