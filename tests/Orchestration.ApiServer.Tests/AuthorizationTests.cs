using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Orchestration.TestKit;

namespace Orchestration.ApiServer.Tests;

/// <summary>RBAC over HTTPS with client certificates: 403s in kube-apiserver's words, bindings granting exactly their rules, the reviews and impersonation.</summary>
[Trait("Category", "Integration")]
public sealed class AuthorizationTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(TimeProvider.System);
        _admin = _server.Http();
        foreach (var ns in new[] { "team", "other" })
        {
            (await PostAsync(_admin, "/api/v1/namespaces", $$$"""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"{{{ns}}}"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        }
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_user_without_bindings_gets_kube_apiservers_403_and_nothing_is_written()
    {
        using var alice = _server.HttpAs("alice", "devs");

        var list = await alice.GetAsync("/api/v1/namespaces/team/pods");
        (await ForbiddenMessageAsync(list)).Should().Be("pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"team\"");
        var get = await alice.GetAsync("/apis/apps/v1/namespaces/team/deployments/web");
        (await ForbiddenMessageAsync(get)).Should().Be("deployments.apps \"web\" is forbidden: User \"alice\" cannot get resource \"deployments\" in API group \"apps\" in the namespace \"team\"");
        var nodes = await alice.GetAsync("/api/v1/nodes?watch=true");
        (await ForbiddenMessageAsync(nodes)).Should().Be("nodes is forbidden: User \"alice\" cannot watch resource \"nodes\" in API group \"\" at the cluster scope");
        var log = await alice.GetAsync("/api/v1/namespaces/team/pods/web/log");
        (await ForbiddenMessageAsync(log)).Should().Be("pods \"web\" is forbidden: User \"alice\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"team\"");
        var metrics = await alice.GetAsync("/metrics");
        (await ForbiddenMessageAsync(metrics)).Should().Be("forbidden: User \"alice\" cannot get path \"/metrics\"");

        var created = await PostAsync(alice, "/api/v1/namespaces/team/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sneaky"}}""");
        (await ForbiddenMessageAsync(created)).Should().Contain("cannot create resource \"configmaps\"");
        (await _admin.GetAsync("/api/v1/namespaces/team/configmaps/sneaky")).StatusCode.Should().Be(HttpStatusCode.NotFound, "a refused write writes nothing");

        // What every authenticated user may do: discovery and asking who it is.
        (await alice.GetAsync("/api")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await alice.GetAsync("/apis/apps/v1")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_role_and_its_binding_grant_exactly_the_roles_rules_in_the_bindings_namespace()
    {
        (await PostAsync(_admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles", """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"pod-reader"},
             "rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]},{"apiGroups":[""],"resources":["configmaps"],"resourceNames":["settings"],"verbs":["get"]}]}
            """)).StatusCode.Should().Be(HttpStatusCode.Created);
        (await PostAsync(_admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"devs-read-pods"},
             "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"},
             "subjects":[{"kind":"Group","name":"devs"}]}
            """)).StatusCode.Should().Be(HttpStatusCode.Created);
        using var alice = _server.HttpAs("alice", "devs");
        using var bob = _server.HttpAs("bob");

        (await Eventually.HoldsAsync(async () => (await alice.GetAsync("/api/v1/namespaces/team/pods")).StatusCode == HttpStatusCode.OK, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the binding reaches the authorizer through its informers");
        (await alice.GetAsync("/api/v1/namespaces/team/pods/web")).StatusCode.Should().Be(HttpStatusCode.NotFound, "get is granted: the pod is simply not there");
        (await alice.GetAsync("/api/v1/namespaces/other/pods")).StatusCode.Should().Be(HttpStatusCode.Forbidden, "a RoleBinding grants only in its namespace");
        (await alice.DeleteAsync("/api/v1/namespaces/team/pods/web")).StatusCode.Should().Be(HttpStatusCode.Forbidden, "delete is not among the verbs");
        (await alice.GetAsync("/api/v1/namespaces/team/configmaps/settings")).StatusCode.Should().Be(HttpStatusCode.NotFound, "the named configmap is granted");
        (await alice.GetAsync("/api/v1/namespaces/team/configmaps/secrets")).StatusCode.Should().Be(HttpStatusCode.Forbidden, "another name is not");
        (await alice.GetAsync("/api/v1/namespaces/team/configmaps")).StatusCode.Should().Be(HttpStatusCode.Forbidden, "resourceNames never cover a list");
        (await bob.GetAsync("/api/v1/namespaces/team/pods")).StatusCode.Should().Be(HttpStatusCode.Forbidden, "bob is not in the bound group");

        // The roleRef of a binding is fixed once made.
        var changed = await PutAsync(_admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings/devs-read-pods", """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"devs-read-pods"},
             "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"Group","name":"devs"}]}
            """);
        changed.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await changed.Content.ReadAsStringAsync()).Should().Contain("cannot change roleRef");
    }

    [Fact]
    public async Task Reviews_answer_can_i_whoami_and_the_rules_list()
    {
        (await PostAsync(_admin, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", """
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"alice-views"},
             "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"system:aggregate-to-view"},"subjects":[{"kind":"User","name":"alice"}]}
            """)).StatusCode.Should().Be(HttpStatusCode.Created);
        using var alice = _server.HttpAs("alice", "devs");

        (await Eventually.HoldsAsync(async () => await CanIAsync(alice, "list", "apps", "deployments", "team") == true, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the view rules reach alice");
        (await CanIAsync(alice, "create", "apps", "deployments", "team")).Should().BeFalse();
        (await CanIAsync(alice, "get", "", "secrets", "team")).Should().BeFalse("view does not read Secrets");
        (await CanIAsync(_admin, "create", "", "secrets", "team")).Should().BeTrue("system:masters may do anything");

        var whoami = await PostAsync(alice, "/apis/authentication.k8s.io/v1/selfsubjectreviews", """{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}""");
        whoami.StatusCode.Should().Be(HttpStatusCode.Created);
        var userInfo = (await whoami.Content.ReadFromJsonAsync<JsonObject>())!["status"]!["userInfo"]!;
        userInfo["username"]!.ToString().Should().Be("alice");
        userInfo["groups"]!.AsArray().Select(g => g!.ToString()).Should().Equal("devs", "system:authenticated");

        var rules = await PostAsync(alice, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", """{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"team"}}""");
        var status = (await rules.Content.ReadFromJsonAsync<JsonObject>())!["status"]!;
        status["resourceRules"]!.AsArray().Should().Contain(r => r!["resources"]!.AsArray().Any(x => x!.ToString() == "deployments") && r["verbs"]!.AsArray().Any(v => v!.ToString() == "list"));
        status["resourceRules"]!.AsArray().Should().Contain(r => r!["resources"]!.AsArray().Any(x => x!.ToString() == "selfsubjectaccessreviews"), "every authenticated user may ask");
        status["nonResourceRules"]!.AsArray().Should().Contain(r => r!["nonResourceURLs"]!.AsArray().Any(x => x!.ToString() == "/api"));

        (await _admin.GetAsync("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).StatusCode.Should().Be(HttpStatusCode.MethodNotAllowed, "a review is only ever created");
    }

    [Fact]
    public async Task Impersonation_needs_the_impersonate_verb_and_then_acts_as_the_user()
    {
        using var alice = _server.HttpAs("alice");
        using var asBob = new HttpRequestMessage(HttpMethod.Get, "/api/v1/namespaces/team/pods");
        asBob.Headers.Add("Impersonate-User", "bob");
        (await ForbiddenMessageAsync(await alice.SendAsync(asBob))).Should().Be("users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope");

        using var adminAsBob = new HttpRequestMessage(HttpMethod.Post, "/apis/authentication.k8s.io/v1/selfsubjectreviews")
        {
            Content = new StringContent("""{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}""", Encoding.UTF8, "application/json"),
        };
        adminAsBob.Headers.Add("Impersonate-User", "bob");
        adminAsBob.Headers.Add("Impersonate-Group", "testers");
        var review = await _admin.SendAsync(adminAsBob);
        review.StatusCode.Should().Be(HttpStatusCode.Created);
        var userInfo = (await review.Content.ReadFromJsonAsync<JsonObject>())!["status"]!["userInfo"]!;
        (userInfo["username"]!.ToString(), string.Join(",", userInfo["groups"]!.AsArray())).Should().Be(("bob", "testers,system:authenticated"));

        using var adminAsBobList = new HttpRequestMessage(HttpMethod.Get, "/api/v1/namespaces/team/pods");
        adminAsBobList.Headers.Add("Impersonate-User", "bob");
        (await ForbiddenMessageAsync(await _admin.SendAsync(adminAsBobList))).Should().Contain("User \"bob\" cannot list", "the impersonated user has only its own rights");
    }

    [Fact]
    public async Task Rbac_names_are_url_path_segments_and_rules_are_checked()
    {
        (await PostAsync(_admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles", """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"system:controller:custom"},"rules":[]}"""))
            .StatusCode.Should().Be(HttpStatusCode.Created, "colons are allowed in RBAC names");
        var slash = await PostAsync(_admin, "/apis/rbac.authorization.k8s.io/v1/clusterroles", """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"a/b"},"rules":[]}""");
        slash.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        JsonNode.Parse(await slash.Content.ReadAsStringAsync())!["message"]!.ToString().Should().Be("ClusterRole \"a/b\" is invalid: metadata.name: Invalid value: \"a/b\": may not contain '/'");
        var noVerbs = await PostAsync(_admin, "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles", """{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["pods"]},{"nonResourceURLs":["/x"],"verbs":["get"]}]}""");
        noVerbs.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        var text = await noVerbs.Content.ReadAsStringAsync();
        text.Should().Contain("rules[0].verbs").And.Contain("namespaced rules cannot apply to non-resource URLs");

        // The default policy is in place: kubectl shows cluster-admin bound to system:masters.
        (await Eventually.HoldsAsync(async () => (await _admin.GetAsync("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin")).StatusCode == HttpStatusCode.OK, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the default bindings are reconciled at start");
    }

    private static async Task<bool?> CanIAsync(HttpClient client, string verb, string group, string resource, string ns)
    {
        var review = new JsonObject
        {
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["kind"] = "SelfSubjectAccessReview",
            ["spec"] = new JsonObject { ["resourceAttributes"] = new JsonObject { ["verb"] = verb, ["group"] = group, ["resource"] = resource, ["namespace"] = ns } },
        };
        var response = await PostAsync(client, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review.ToJsonString());
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["status"]!["allowed"]!.GetValue<bool>();
    }

    private static async Task<string> ForbiddenMessageAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.Forbidden, body);
        var status = JsonNode.Parse(body)!.AsObject();
        (status["kind"]!.ToString(), status["reason"]!.ToString(), status["code"]!.GetValue<int>()).Should().Be(("Status", "Forbidden", 403));
        return status["message"]!.ToString();
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private static Task<HttpResponseMessage> PutAsync(HttpClient client, string path, string json) =>
        client.PutAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
}
