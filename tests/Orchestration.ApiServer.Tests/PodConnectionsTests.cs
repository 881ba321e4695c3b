using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Orchestration.NodeAgent.Server;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// <c>pods/log</c>, <c>pods/exec</c> and <c>pods/portforward</c> at the API server: requests it must
/// refuse with a clear Status, and logs that travel through a node agent's server from a CRI log file.
/// </summary>
[Trait("Category", "Integration")]
public sealed class PodConnectionsTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly string _logs = Directory.CreateTempSubdirectory("orch-logs-").FullName;
    private TestApiServer? _server;
    private HttpClient? _http;
    private NodeAgentServer? _agent;

    private HttpClient Http => _http!;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(_clock);
        _http = _server.Http();
        await PostAsync("/api/v1/namespaces", """{"metadata":{"name":"default"}}""");

        var log = Path.Combine(_logs, "0.log");
        await File.WriteAllTextAsync(log, """
            2026-03-01T11:59:58.000000001Z stdout F first
            2026-03-01T11:59:59.000000002Z stderr P sec
            2026-03-01T11:59:59.000000003Z stderr F ond
            2026-03-01T12:00:00.000000004Z stdout F third

            """.Replace("\r", "", StringComparison.Ordinal));
        _agent = await NodeAgentServer.StartAsync(new OneContainerRuntime(log), new NodeAgentServerOptions());
        await PostAsync("/api/v1/nodes", """{"metadata":{"name":"served"}}""");
        var endpoint = new JsonObject { ["kubeletEndpoint"] = new JsonObject { ["Port"] = _agent.EndPoint!.Port } };
        var status = new JsonObject { ["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = "127.0.0.1" }), ["daemonEndpoints"] = endpoint };
        await PutStatusAsync("/api/v1/nodes/served/status", new JsonObject { ["status"] = status }.ToJsonString());
        await PostAsync("/api/v1/nodes", """{"metadata":{"name":"silent"}}""");
        await PostAsync("/api/v1/namespaces/default/pods", Pod("web", "served", ["main"]));
        await PostAsync("/api/v1/namespaces/default/pods", Pod("pair", "served", ["a", "b"]));
        await PostAsync("/api/v1/namespaces/default/pods", Pod("pending", null, ["main"]));
        await PostAsync("/api/v1/namespaces/default/pods", Pod("elsewhere", "silent", ["main"]));
        await PutStatusAsync("/api/v1/namespaces/default/pods/web/status", """{"metadata":{"name":"web"},"status":{"phase":"Running","containerStatuses":[{"name":"main","image":"busybox","imageID":"","ready":true,"restartCount":0,"state":{"running":{}}}]}}""");
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_agent is not null)
        {
            await _agent.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_logs, recursive: true);
    }

    [Fact]
    public async Task Logs_come_from_the_node_agents_log_file_with_partial_lines_joined()
    {
        var response = await Http.GetAsync("/api/v1/namespaces/default/pods/web/log");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).Should().Be("first\nsecond\nthird\n");
    }

    [Fact]
    public async Task Logs_honour_tail_lines_timestamps_and_limit_bytes()
    {
        (await Http.GetStringAsync("/api/v1/namespaces/default/pods/web/log?tailLines=1&timestamps=true")).Should().Be("2026-03-01T12:00:00.000000004Z third\n");
        (await Http.GetStringAsync("/api/v1/namespaces/default/pods/web/log?limitBytes=8")).Should().Be("first\nse");
        (await Http.GetStringAsync("/api/v1/namespaces/default/pods/web/log?sinceTime=2026-03-01T11:59:59Z")).Should().Be("second\nthird\n");
    }

    [Theory]
    [InlineData("/api/v1/namespaces/default/pods/pair/log", 400, "a container name must be specified for pod pair, choose one of: [a b]")]
    [InlineData("/api/v1/namespaces/default/pods/web/log?container=other", 400, "container other is not valid for pod web")]
    [InlineData("/api/v1/namespaces/default/pods/pending/log", 400, "pod pending does not have a host assigned")]
    [InlineData("/api/v1/namespaces/default/pods/elsewhere/exec?command=ls&stdout=true", 400, "node silent reports no agent endpoint")]
    [InlineData("/api/v1/namespaces/default/pods/missing/log", 404, "pods \"missing\" not found")]
    [InlineData("/api/v1/namespaces/default/pods/web/log?previous=true", 400, "previous terminated container \"main\" in pod \"web\" not found")]
    [InlineData("/api/v1/namespaces/default/pods/web/exec?stdout=true", 400, "you must specify at least one command for the container")]
    [InlineData("/api/v1/namespaces/default/pods/web/exec?command=ls", 400, "you must specify at least 1 of stdin, stdout, stderr")]
    public async Task Requests_that_cannot_be_served_get_a_status_that_says_why(string path, int code, string message)
    {
        var response = await Http.GetAsync(path);
        ((int)response.StatusCode).Should().Be(code);
        var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        status["kind"]!.ToString().Should().Be("Status");
        status["message"]!.ToString().Should().Contain(message);
    }

    [Fact]
    public async Task A_container_that_never_ran_has_no_log_yet()
    {
        await PutStatusAsync("/api/v1/namespaces/default/pods/pair/status", """{"metadata":{"name":"pair"},"status":{"phase":"Pending","containerStatuses":[{"name":"a","image":"busybox","imageID":"","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ErrImageNeverPull"}}}]}}""");
        var response = await Http.GetAsync("/api/v1/namespaces/default/pods/pair/log?container=a");
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!["message"]!.ToString().Should().Be("container \"a\" in pod \"pair\" is waiting to start: ErrImageNeverPull");
    }

    [Fact]
    public async Task Discovery_lists_the_pod_subresources_kubectl_looks_for()
    {
        var resources = JsonNode.Parse(await Http.GetStringAsync("/api/v1"))!["resources"]!.AsArray().Select(r => r!["name"]!.ToString()).ToList();
        resources.Should().Contain(["pods/log", "pods/exec", "pods/attach", "pods/portforward"]);
    }

    private static string Pod(string name, string? node, string[] containers) =>
        new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name },
            ["spec"] = new JsonObject
            {
                ["nodeName"] = node,
                ["containers"] = new JsonArray(containers.Select(c => (JsonNode)new JsonObject { ["name"] = c, ["image"] = "busybox" }).ToArray()),
            },
        }.ToJsonString();

    private async Task PostAsync(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");
        var response = await Http.PostAsync(path, content);
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    private async Task PutStatusAsync(string path, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/merge-patch+json");
        var response = await Http.PatchAsync(path, content);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The pod's one container, whose log is the given file.</summary>
    private sealed class OneContainerRuntime(string logPath) : OnePodRuntime
    {
        protected override string? LogPath => logPath;
    }
}
