using System.Net;
using FluentAssertions;
using Orchestration.Runtime;
using Xunit;

namespace Orchestration.TestKit.Conformance;

/// <summary>
/// What every <see cref="INodeRuntime"/> must do for the node agent, in CRI's terms: the simulated
/// runtime and containerd run these same tests. Containers run busybox commands whose end both
/// understand (<c>sleep</c>, <c>exit N</c>); what only a real runtime can show (command output, a
/// missing image) is tested beside the real one.
/// </summary>
public abstract class NodeRuntimeConformanceTests : IAsyncLifetime
{
    /// <summary>The pod CIDR the node is given: sandbox IPs come from it.</summary>
    protected const string PodCidr = "10.244.7.0/24";

    private readonly List<string> _sandboxes = [];

    /// <summary>The runtime under test.</summary>
    protected abstract INodeRuntime Runtime { get; }

    /// <summary>How long a container may take to reach the state a test waits for.</summary>
    protected virtual TimeSpan Patience => TimeSpan.FromSeconds(15);

    /// <inheritdoc />
    public virtual async Task InitializeAsync() => await Runtime.UpdateRuntimeConfigAsync(PodCidr, CancellationToken.None);

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var id in _sandboxes)
        {
            await Runtime.StopPodSandboxAsync(id, CancellationToken.None);
            await Runtime.RemovePodSandboxAsync(id, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_sandbox_is_ready_with_an_ip_from_the_pod_cidr_and_is_listed()
    {
        var sandbox = await RunSandboxAsync("web");

        sandbox.Ready.Should().BeTrue();
        IPNetwork.Parse(PodCidr).Contains(IPAddress.Parse(sandbox.Ip)).Should().BeTrue($"{sandbox.Ip} comes from {PodCidr}");
        var listed = await Runtime.ListPodSandboxesAsync(CancellationToken.None);
        listed.Should().ContainSingle(s => s.Id == sandbox.Id).Which.Should().BeEquivalentTo(sandbox);
    }

    [Fact]
    public async Task Running_a_sandbox_again_for_the_same_pod_gives_the_same_one()
    {
        var first = await RunSandboxAsync("again");

        var second = await Runtime.RunPodSandboxAsync(first.Config, CancellationToken.None);

        second.Id.Should().Be(first.Id);
    }

    [Fact]
    public async Task Two_sandboxes_get_different_ips()
    {
        var a = await RunSandboxAsync("a");
        var b = await RunSandboxAsync("b");

        a.Ip.Should().NotBe(b.Ip);
    }

    [Fact]
    public async Task A_started_container_runs_with_its_attempt_labels_and_times()
    {
        var sandbox = await RunSandboxAsync("runs");
        var labels = new Dictionary<string, string> { ["io.kubernetes.container.name"] = "app", ["team"] = "blue" };
        var before = DateTimeOffset.UtcNow.AddSeconds(-2);

        var id = await Runtime.CreateContainerAsync(sandbox.Id, Container("app", ["sh", "-c", "echo hi; sleep 3600"], attempt: 2, labels: labels), CancellationToken.None);
        var created = await StatusAsync(id);
        created.State.Should().Be(ContainerState.Created);
        await Runtime.StartContainerAsync(id, CancellationToken.None);

        var running = await WaitForAsync(id, s => s.State == ContainerState.Running);
        running.SandboxId.Should().Be(sandbox.Id);
        running.Name.Should().Be("app");
        running.Attempt.Should().Be(2);
        running.Labels.Should().Contain(labels);
        running.StartedAt.Should().NotBeNull().And.BeAfter(before);
        running.CreatedAt.Should().NotBeNull().And.BeOnOrBefore(running.StartedAt!.Value);
        running.FinishedAt.Should().BeNull();
        running.ExitCode.Should().BeNull();
    }

    [Fact]
    public async Task ExecSync_returns_the_commands_exit_code()
    {
        var id = await RunContainerAsync("exec", ["sleep", "3600"]);

        var ok = await Runtime.ExecSyncAsync(id, ["sh", "-c", "exit 0"], TimeSpan.FromSeconds(5), CancellationToken.None);
        var failed = await Runtime.ExecSyncAsync(id, ["sh", "-c", "exit 1"], TimeSpan.FromSeconds(5), CancellationToken.None);

        ok.ExitCode.Should().Be(0);
        failed.ExitCode.Should().Be(1);
    }

    [Fact]
    public async Task A_stopped_container_is_exited_by_a_signal()
    {
        var id = await RunContainerAsync("stop", ["sh", "-c", "echo hi; sleep 3600"]);
        var started = (await StatusAsync(id)).StartedAt;

        await Runtime.StopContainerAsync(id, TimeSpan.FromSeconds(2), CancellationToken.None);

        var exited = await WaitForAsync(id, s => s.State == ContainerState.Exited);

        // 143 when the process heeds SIGTERM, 137 when the grace period ran out and it was killed.
        exited.ExitCode.Should().BeOneOf(137, 143);
        exited.Reason.Should().NotBeNullOrEmpty();
        exited.StartedAt.Should().Be(started);
        exited.FinishedAt.Should().NotBeNull().And.BeOnOrAfter(started!.Value);
    }

    [Fact]
    public async Task A_container_that_exits_3_reports_exit_code_3_and_reason_Error()
    {
        var id = await RunContainerAsync("crash", ["sh", "-c", "exit 3"]);

        var exited = await WaitForAsync(id, s => s.State == ContainerState.Exited);

        exited.ExitCode.Should().Be(3);
        exited.Reason.Should().Be("Error");
    }

    [Fact]
    public async Task A_container_that_exits_0_reports_reason_Completed()
    {
        var id = await RunContainerAsync("done", ["sh", "-c", "exit 0"]);

        var exited = await WaitForAsync(id, s => s.State == ContainerState.Exited);

        exited.ExitCode.Should().Be(0);
        exited.Reason.Should().Be("Completed");
    }

    [Theory]
    [InlineData("busybox")]
    [InlineData("busybox:latest")]
    [InlineData("docker.io/library/busybox:latest")]
    public async Task The_short_and_full_names_of_an_image_both_run(string image)
    {
        var sandbox = await RunSandboxAsync("names");

        var id = await Runtime.CreateContainerAsync(sandbox.Id, Container("app", ["sleep", "3600"]) with { Image = image }, CancellationToken.None);
        await Runtime.StartContainerAsync(id, CancellationToken.None);

        var running = await WaitForAsync(id, s => s.State == ContainerState.Running);
        running.Image.Should().Be(image, "the status names the image as the pod did");
    }

    [Fact]
    public async Task Listing_by_sandbox_shows_only_that_sandboxs_containers()
    {
        var a = await RunSandboxAsync("list-a");
        var b = await RunSandboxAsync("list-b");
        var inA = await Runtime.CreateContainerAsync(a.Id, Container("app", ["sleep", "3600"]), CancellationToken.None);
        var inB = await Runtime.CreateContainerAsync(b.Id, Container("app", ["sleep", "3600"]), CancellationToken.None);

        var listA = await Runtime.ListContainersAsync(a.Id, CancellationToken.None);
        var all = await Runtime.ListContainersAsync(null, CancellationToken.None);

        listA.Select(c => c.Id).Should().Equal(inA);
        all.Select(c => c.Id).Should().Contain([inA, inB]);
    }

    [Fact]
    public async Task Stopping_a_sandbox_ends_its_containers_and_removing_it_removes_them()
    {
        var sandbox = await RunSandboxAsync("remove");
        var id = await Runtime.CreateContainerAsync(sandbox.Id, Container("app", ["sleep", "3600"]), CancellationToken.None);
        await Runtime.StartContainerAsync(id, CancellationToken.None);
        await WaitForAsync(id, s => s.State == ContainerState.Running);

        await Runtime.StopPodSandboxAsync(sandbox.Id, CancellationToken.None);

        (await StatusAsync(id)).State.Should().Be(ContainerState.Exited);
        (await Runtime.ListPodSandboxesAsync(CancellationToken.None)).Should().ContainSingle(s => s.Id == sandbox.Id).Which.Ready.Should().BeFalse();

        await Runtime.RemovePodSandboxAsync(sandbox.Id, CancellationToken.None);

        (await Runtime.ListPodSandboxesAsync(CancellationToken.None)).Should().NotContain(s => s.Id == sandbox.Id);
        (await Runtime.ListContainersAsync(null, CancellationToken.None)).Should().NotContain(c => c.Id == id);
    }

    [Fact]
    public async Task A_removed_container_is_gone_and_removing_it_again_is_no_error()
    {
        var id = await RunContainerAsync("rm", ["sh", "-c", "exit 0"]);
        await WaitForAsync(id, s => s.State == ContainerState.Exited);

        await Runtime.RemoveContainerAsync(id, CancellationToken.None);
        await Runtime.RemoveContainerAsync(id, CancellationToken.None);

        (await Runtime.ListContainersAsync(null, CancellationToken.None)).Should().NotContain(c => c.Id == id);
    }

    [Fact]
    public async Task A_container_with_a_working_dir_mounts_limits_and_a_host_port_runs()
    {
        var node = Directory.CreateTempSubdirectory("orch-conformance-").FullName;
        try
        {
            var config = new PodSandboxConfig("conformance", "configured", Guid.NewGuid().ToString()) { PortMappings = [new PortMapping("TCP", 8080, 18081)] };
            var sandbox = await Runtime.RunPodSandboxAsync(config, CancellationToken.None);
            _sandboxes.Add(sandbox.Id);
            var container = Container("app", ["sleep", "3600"]) with
            {
                WorkingDirectory = "/data",
                Mounts = [new ContainerMount("/data", node), new ContainerMount("/config", node, ReadOnly: true)],
                Resources = new ContainerResources(CpuPeriod: 100_000, CpuQuota: 50_000, CpuShares: 256, MemoryLimitInBytes: 64 * 1024 * 1024),
            };

            var id = await Runtime.CreateContainerAsync(sandbox.Id, container, CancellationToken.None);
            await Runtime.StartContainerAsync(id, CancellationToken.None);

            (await WaitForAsync(id, s => s.State != ContainerState.Created)).State.Should().Be(ContainerState.Running);
        }
        finally
        {
            Directory.Delete(node, recursive: true);
        }
    }

    /// <summary>Runs a sandbox for a pod named <paramref name="name"/> with a fresh uid; it is removed after the test.</summary>
    protected async Task<PodSandbox> RunSandboxAsync(string name)
    {
        var sandbox = await Runtime.RunPodSandboxAsync(new PodSandboxConfig("conformance", name, Guid.NewGuid().ToString()), CancellationToken.None);
        _sandboxes.Add(sandbox.Id);
        return sandbox;
    }

    /// <summary>Runs one busybox container in a sandbox of its own; returns its id.</summary>
    protected async Task<string> RunContainerAsync(string name, IReadOnlyList<string> command)
    {
        var sandbox = await RunSandboxAsync(name);
        var id = await Runtime.CreateContainerAsync(sandbox.Id, Container("app", command), CancellationToken.None);
        await Runtime.StartContainerAsync(id, CancellationToken.None);
        return id;
    }

    /// <summary>A busybox container that runs <paramref name="command"/>.</summary>
    protected static ContainerConfig Container(string name, IReadOnlyList<string> command, int attempt = 0, IReadOnlyDictionary<string, string>? labels = null) =>
        new(name, "busybox", command, [], new Dictionary<string, string> { ["GREETING"] = "hello" }, attempt, labels);

    /// <summary>The container's status as the runtime lists it.</summary>
    protected async Task<ContainerStatus> StatusAsync(string id)
    {
        var list = await Runtime.ListContainersAsync(null, CancellationToken.None);
        return list.Should().ContainSingle(c => c.Id == id).Subject;
    }

    /// <summary>Waits, up to <see cref="Patience"/>, until the container's status matches.</summary>
    protected async Task<ContainerStatus> WaitForAsync(string id, Func<ContainerStatus, bool> condition)
    {
        ContainerStatus? last = null;
        var held = await Eventually.HoldsAsync(async () => condition(last = await StatusAsync(id)), (int)(Patience.TotalMilliseconds / 50), TimeSpan.FromMilliseconds(50));
        held.Should().BeTrue($"container {id} should reach the state in time; last status: {last}");
        return last!;
    }
}
