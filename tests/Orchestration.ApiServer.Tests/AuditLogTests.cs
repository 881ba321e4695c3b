using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Orchestration.TestKit;

namespace Orchestration.ApiServer.Tests;

/// <summary>The audit log: one JSON line per request at the level the policy's first matching rule gives, as kube-apiserver's log backend writes them.</summary>
[Trait("Category", "Integration")]
public sealed class AuditLogTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("orch-audit-").FullName;
    private TestApiServer _server = null!;

    private string LogPath => Path.Combine(_directory, "audit.log");

    public async Task InitializeAsync()
    {
        var policy = Path.Combine(_directory, "policy.yaml");
        await File.WriteAllTextAsync(policy, """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            omitStages: [RequestReceived]
            rules:
            - level: None
              nonResourceURLs: ["/healthz*", "/version"]
            - level: RequestResponse
              resources: [{group: "", resources: [configmaps]}]
            - level: Metadata
              resources: [{group: "", resources: [secrets]}]
            - level: Request
              verbs: [create]
            - level: Metadata
            """);
        _server = await TestApiServer.StartAsync(TimeProvider.System, api =>
        {
            api.AuditPolicyFile = policy;
            api.AuditLogPath = LogPath;
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Each_request_is_one_line_at_the_level_its_first_matching_rule_gives()
    {
        using var admin = _server.Http();
        using var alice = _server.HttpAs("alice");
        (await admin.PostAsync("/api/v1/namespaces", Json("""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}"""))).StatusCode.Should().Be(HttpStatusCode.Created);
        (await admin.PostAsync("/api/v1/namespaces/default/configmaps", Json("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings"},"data":{"mode":"fast"}}"""))).StatusCode.Should().Be(HttpStatusCode.Created);
        (await admin.PostAsync("/api/v1/namespaces/default/secrets", Json("""{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"password":"hunter2"}}"""))).StatusCode.Should().Be(HttpStatusCode.Created);
        (await alice.GetAsync("/api/v1/namespaces/default/pods")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await admin.GetAsync("/version")).StatusCode.Should().Be(HttpStatusCode.OK);
        using (var asBob = new HttpRequestMessage(HttpMethod.Get, "/api/v1/namespaces/default/configmaps/settings"))
        {
            asBob.Headers.Add("Impersonate-User", "bob");
            (await admin.SendAsync(asBob)).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        }

        List<JsonObject> events = [];
        (await Eventually.HoldsAsync(() => (events = Lines()).Count >= 5, 100, TimeSpan.FromMilliseconds(50))).Should().BeTrue($"the writer appends the events: {string.Join("\n", events.Select(e => e.ToJsonString()))}");
        events.Should().HaveCount(5, "one line per audited request; /version is at level None and RequestReceived is omitted");
        events.Should().OnlyContain(e => e["kind"]!.ToString() == "Event" && e["apiVersion"]!.ToString() == "audit.k8s.io/v1" && e["stage"]!.ToString() == "ResponseComplete");

        var ns = events[0];
        (ns["level"]!.ToString(), ns["objectRef"]!["resource"]!.ToString()).Should().Be(("Request", "namespaces"), "a create matches the create rule");
        ns["requestObject"]!["metadata"]!["name"]!.ToString().Should().Be("default");
        ns.ContainsKey("responseObject").Should().BeFalse("the response is recorded only at RequestResponse");

        var configMap = events[1];
        (configMap["level"]!.ToString(), configMap["verb"]!.ToString(), configMap["objectRef"]!["resource"]!.ToString(), configMap["responseStatus"]!["code"]!.GetValue<int>())
            .Should().Be(("RequestResponse", "create", "configmaps", 201));
        configMap["requestObject"]!["data"]!["mode"]!.ToString().Should().Be("fast");
        configMap["responseObject"]!["metadata"]!["uid"].Should().NotBeNull("the response body is recorded at RequestResponse");
        configMap["user"]!["username"]!.ToString().Should().Be("admin");

        var secret = events[2];
        secret["level"]!.ToString().Should().Be("Metadata", "the secrets rule comes before the create rule");
        secret.ContainsKey("requestObject").Should().BeFalse("no body is recorded at Metadata");
        secret.ToJsonString().Should().NotContain("hunter2");

        var refused = events[3];
        (refused["user"]!["username"]!.ToString(), refused["verb"]!.ToString(), refused["objectRef"]!["namespace"]!.ToString(), refused["responseStatus"]!["code"]!.GetValue<int>())
            .Should().Be(("alice", "list", "default", 403));

        var impersonating = events[4];
        (impersonating["user"]!["username"]!.ToString(), impersonating["impersonatedUser"]!["username"]!.ToString(), impersonating["responseStatus"]!["code"]!.GetValue<int>())
            .Should().Be(("admin", "bob", 403), "the authenticated user and the one it acted as are both recorded");
    }

    [Fact]
    public async Task A_pod_admitted_under_the_pod_security_audit_label_carries_its_violations_on_its_audit_event()
    {
        using var admin = _server.Http();
        (await admin.PostAsync("/api/v1/namespaces", Json("""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"audited","labels":{"pod-security.kubernetes.io/audit":"baseline"}}}"""))).StatusCode.Should().Be(HttpStatusCode.Created);

        var created = await admin.PostAsync("/api/v1/namespaces/audited/pods", Json("""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"priv"},"spec":{"containers":[{"name":"main","image":"busybox","securityContext":{"privileged":true}}]}}"""));
        var plain = await admin.PostAsync("/api/v1/namespaces/audited/pods", Json("""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"plain"},"spec":{"containers":[{"name":"main","image":"busybox"}]}}"""));

        created.StatusCode.Should().Be(HttpStatusCode.Created, "audit mode admits the pod");
        plain.StatusCode.Should().Be(HttpStatusCode.Created);
        List<JsonObject> pods = [];
        (await Eventually.HoldsAsync(() => (pods = [.. Lines().Where(e => e["objectRef"]?["resource"]?.ToString() == "pods")]).Count >= 2, 100, TimeSpan.FromMilliseconds(50))).Should().BeTrue();
        pods[0]["annotations"]!["pod-security.kubernetes.io/audit-violations"]!.ToString()
            .Should().Be("would violate PodSecurity \"baseline:latest\": privileged (container \"main\" must not set securityContext.privileged=true)");
        pods[1].ContainsKey("annotations").Should().BeFalse("a pod that breaks nothing is not annotated");
    }

    private List<JsonObject> Lines() =>
        File.Exists(LogPath)
            ? [.. File.ReadAllLines(LogPath).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())]
            : [];

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
