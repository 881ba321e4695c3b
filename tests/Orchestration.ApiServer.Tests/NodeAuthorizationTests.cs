using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// A node's credential (system:node:NAME in system:nodes): the Node authorizer lets it read only what
/// its own pods name, and NodeRestriction lets it write only its own Node, Lease and pods.
/// </summary>
[Trait("Category", "Integration")]
public sealed class NodeAuthorizationTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private HttpClient _admin = null!;
    private HttpClient _nodeA = null!;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(TimeProvider.System);
        _admin = _server.Http();
        _nodeA = _server.HttpAs("system:node:node-a", "system:nodes");
        await CreateAsync("/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"apps"}}""");
        await CreateAsync("/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-node-lease"}}""");
        foreach (var node in new[] { "node-a", "node-b" })
        {
            await CreateAsync("/api/v1/nodes", $$$"""{"apiVersion":"v1","kind":"Node","metadata":{"name":"{{{node}}}"}}""");
            await CreateAsync("/api/v1/namespaces/apps/secrets", $$$"""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"secret-{{{node}}}"},"stringData":{"k":"v"}}""");
            await CreateAsync("/api/v1/namespaces/apps/configmaps", $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"config-{{{node}}}"},"data":{"k":"v"}}""");
            await CreateAsync("/api/v1/namespaces/apps/serviceaccounts", $$$"""{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"account-{{{node}}}"}}""");
            await CreateAsync("/api/v1/namespaces/apps/pods", $$$$"""
                {"apiVersion":"v1","kind":"Pod","metadata":{"name":"pod-{{{{node}}}}"},
                 "spec":{"nodeName":"{{{{node}}}}","serviceAccountName":"account-{{{{node}}}}",
                   "containers":[{"name":"main","image":"busybox","env":[{"name":"S","valueFrom":{"secretKeyRef":{"name":"secret-{{{{node}}}}","key":"k"}}}]}],
                   "volumes":[{"name":"c","configMap":{"name":"config-{{{{node}}}}"}}]}}
                """);
        }
    }

    public async Task DisposeAsync()
    {
        _nodeA.Dispose();
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_node_reads_the_secrets_and_config_maps_of_its_own_pods_and_not_another_nodes()
    {
        (await _nodeA.GetAsync("/api/v1/namespaces/apps/secrets/secret-node-a")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await _nodeA.GetAsync("/api/v1/namespaces/apps/configmaps/config-node-a")).StatusCode.Should().Be(HttpStatusCode.OK);

        (await MessageAsync(await _nodeA.GetAsync("/api/v1/namespaces/apps/secrets/secret-node-b"), HttpStatusCode.Forbidden))
            .Should().Be("secrets \"secret-node-b\" is forbidden: User \"system:node:node-a\" cannot get resource \"secrets\" in API group \"\" in the namespace \"apps\": no relationship found between node 'node-a' and this object");
        (await _nodeA.GetAsync("/api/v1/namespaces/apps/configmaps/config-node-b")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await _nodeA.GetAsync("/api/v1/namespaces/apps/secrets")).StatusCode.Should().Be(HttpStatusCode.Forbidden, "a node lists no secrets");

        // Tokens only for the accounts of its pods.
        var ownToken = await PostAsync(_nodeA, "/api/v1/namespaces/apps/serviceaccounts/account-node-a/token", """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"pod-node-a"}}}""");
        ownToken.StatusCode.Should().Be(HttpStatusCode.Created, await ownToken.Content.ReadAsStringAsync());
        (await PostAsync(_nodeA, "/api/v1/namespaces/apps/serviceaccounts/account-node-b/token", """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}""")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_node_writes_the_status_of_its_own_pods_and_its_own_node_and_lease_only()
    {
        (await PatchAsync(_nodeA, "/api/v1/namespaces/apps/pods/pod-node-a/status", """{"status":{"phase":"Running"}}""")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PatchAsync(_nodeA, "/api/v1/namespaces/apps/pods/pod-node-b/status", """{"status":{"phase":"Running"}}""")).StatusCode.Should().Be(HttpStatusCode.Forbidden);

        (await PatchAsync(_nodeA, "/api/v1/nodes/node-a", """{"metadata":{"labels":{"tier":"one"}}}""")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await MessageAsync(await PatchAsync(_nodeA, "/api/v1/nodes/node-b", """{"metadata":{"labels":{"tier":"one"}}}"""), HttpStatusCode.Forbidden))
            .Should().Be("nodes \"node-b\" is forbidden: node \"node-a\" is not allowed to modify node \"node-b\"");
        (await MessageAsync(await _nodeA.DeleteAsync("/api/v1/namespaces/apps/pods/pod-node-b"), HttpStatusCode.Forbidden))
            .Should().Be("pods \"pod-node-b\" is forbidden: node \"node-a\" can only delete pods with spec.nodeName set to itself");
        (await MessageAsync(await PostAsync(_nodeA, "/api/v1/namespaces/apps/pods", """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"sneaky"},"spec":{"nodeName":"node-a","containers":[{"name":"m","image":"busybox"}]}}"""), HttpStatusCode.Forbidden))
            .Should().Be("pods \"sneaky\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" annotation, node \"node-a\" can only create mirror pods");

        (await PostAsync(_nodeA, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", """{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"node-a"},"spec":{"holderIdentity":"node-a"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        (await MessageAsync(await PostAsync(_nodeA, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", """{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"node-b"},"spec":{"holderIdentity":"node-a"}}"""), HttpStatusCode.Forbidden))
            .Should().Be("leases.coordination.k8s.io \"node-b\" is forbidden: can only access node lease with the same name as the requesting node");

        (await _admin.GetAsync("/api/v1/namespaces/apps/pods/pod-node-b")).StatusCode.Should().Be(HttpStatusCode.OK, "the refused delete removed nothing");
        (await _admin.GetAsync("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-b")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_user_named_like_a_node_but_outside_system_nodes_gets_nothing_from_the_node_authorizer()
    {
        using var impostor = _server.HttpAs("system:node:node-a", "devs");

        (await impostor.GetAsync("/api/v1/namespaces/apps/secrets/secret-node-a")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await impostor.GetAsync("/api/v1/nodes")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
    }

    private async Task CreateAsync(string path, string json)
    {
        var response = await PostAsync(_admin, path, json);
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static Task<HttpResponseMessage> PatchAsync(HttpClient client, string path, string json) =>
        client.PatchAsync(path, new StringContent(json, Encoding.UTF8, "application/merge-patch+json"));

    private static async Task<string> MessageAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(expected, body);
        return JsonNode.Parse(body)?["message"]?.ToString() ?? "";
    }
}
