using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// Overload protection: with a workload's seats and queue full (held by writes a slow webhook keeps
/// waiting), more of its writes get 429 with Retry-After at once, a node's request in the system
/// level goes through at once, and a client that honours Retry-After gets every write done.
/// </summary>
[Trait("Category", "Integration")]
public sealed class OverloadTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private TestWebhookServer _webhooks = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        // Mutating seats: 4 in all, 1 for the system level and 3 for workloads; no queue.
        _server = await TestApiServer.StartAsync(TimeProvider.System, api =>
        {
            api.MaxMutatingRequestsInFlight = 4;
            api.MaxQueuedRequests = 0;
        });
        _admin = _server.Http();
        _webhooks = await TestWebhookServer.StartAsync(new Dictionary<string, (TimeSpan, Func<JsonObject, JsonObject>)>
        {
            ["/slow"] = (TimeSpan.FromSeconds(2), review => TestWebhookServer.Allowed(review)),
        });
        foreach (var body in new[]
        {
            """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"busy"}}""",
            """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-node-lease"}}""",
        })
        {
            (await Post(_admin, "/api/v1/namespaces", body)).StatusCode.Should().Be(HttpStatusCode.Created);
        }

        var binding = """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"everyone-admin"},
             "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},
             "subjects":[{"kind":"Group","name":"system:authenticated"}]}
            """;
        (await Post(_admin, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding)).StatusCode.Should().Be(HttpStatusCode.Created);
        var slow = TestWebhookServer.Configuration("ValidatingWebhookConfiguration", "slow.example.com", _webhooks.Url + "/slow", _webhooks.CaBundle, "configmaps", "Fail", 10);
        (await Post(_admin, "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", slow.ToJsonString())).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _webhooks.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_saturated_workload_gets_429_with_retry_after_while_a_nodes_request_goes_through()
    {
        using var bench = _server.HttpAs("bench");
        using var node = _server.HttpAs("system:node:web-1", "system:nodes");
        var writes = Enumerable.Range(0, 6).Select(i => Post(bench, "/api/v1/namespaces/busy/configmaps", $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-{{{i}}}"}}""")).ToList();

        // While three writes hold the workload's seats in the slow webhook, a node renews its lease.
        var clock = Stopwatch.StartNew();
        var lease = await Post(node, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", """{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"web-1"},"spec":{"holderIdentity":"web-1"}}""");
        lease.StatusCode.Should().Be(HttpStatusCode.Created, await lease.Content.ReadAsStringAsync());
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1.5), "the system level's seat is free whatever the workload does");

        var responses = await Task.WhenAll(writes);
        responses.Count(r => r.StatusCode == HttpStatusCode.Created).Should().Be(3, "three seats");
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        refused.Should().HaveCount(3, "the rest find no seat and no queue");
        foreach (var response in refused)
        {
            response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(1));
            var status = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
            (status["reason"]!.ToString(), status["message"]!.ToString(), status["details"]!["retryAfterSeconds"]!.GetValue<int>())
                .Should().Be(("TooManyRequests", "Too many requests, please try again later.", 1));
        }
    }

    [Fact]
    public async Task A_client_that_honours_retry_after_gets_every_write_done()
    {
        var options = new RemoteClusterClientOptions { Credentials = _server.Certificates.ClientConfiguration(_server.Url, "bench", [], TimeProvider.System) };
        options.Servers.Add(_server.Url);
        var client = new RemoteClusterClient(options, ResourceKindTable.CreateDefault());

        await Task.WhenAll(Enumerable.Range(0, 6).Select(i => client.CreateAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = $"retried-{i}", NamespaceProperty = "busy" } })));

        (await client.ListAsync<V1ConfigMap>("busy")).Items.Select(c => c.Metadata.Name).Should().BeEquivalentTo(Enumerable.Range(0, 6).Select(i => $"retried-{i}"));
    }

    private static Task<HttpResponseMessage> Post(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
}
