using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Orchestration.ApiServer.Tests;

/// <summary>The other bearer tokens: a static token file, bootstrap tokens from kube-system Secrets, the TokenReview API, and anonymous requests when allowed.</summary>
[Trait("Category", "Integration")]
public sealed class StaticAndBootstrapTokenTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("orch-tokens-").FullName;
    private TestApiServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        var file = Path.Combine(_directory, "tokens.csv");
        await File.WriteAllTextAsync(file, "# token,user,uid,groups\nops-token-31415926,carol,u-1,\"ops,oncall\"\n");
        _server = await TestApiServer.StartAsync(TimeProvider.System, api =>
        {
            api.TokenAuthFile = file;
            api.AnonymousAuth = true;
        });
        _admin = _server.Http();
        (await Post(_admin, "/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task A_static_token_authenticates_as_its_line_says()
    {
        var user = await WhoAmIAsync("ops-token-31415926");
        (user!["username"]!.ToString(), user["uid"]!.ToString(), string.Join(",", user["groups"]!.AsArray())).Should().Be(("carol", "u-1", "ops,oncall,system:authenticated"));
        (await WhoAmIAsync("ops-token-31415927")).Should().BeNull("a token one character off is refused");
    }

    [Fact]
    public async Task A_bootstrap_token_authenticates_while_its_secret_allows_it()
    {
        await BootstrapSecretAsync("abcdef", "0123456789abcdef", expiration: DateTimeOffset.UtcNow.AddHours(1), usage: "true");
        var user = await WhoAmIAsync("abcdef.0123456789abcdef");
        (user!["username"]!.ToString(), string.Join(",", user["groups"]!.AsArray())).Should().Be(("system:bootstrap:abcdef", "system:bootstrappers,system:bootstrappers:workers,system:authenticated"));
        (await WhoAmIAsync("abcdef.0123456789abcdee")).Should().BeNull("the secret half must match");

        await BootstrapSecretAsync("expird", "0123456789abcdef", expiration: DateTimeOffset.UtcNow.AddMinutes(-1), usage: "true");
        (await WhoAmIAsync("expird.0123456789abcdef")).Should().BeNull("an expired bootstrap token is refused");
        await BootstrapSecretAsync("nouse0", "0123456789abcdef", expiration: null, usage: "false");
        (await WhoAmIAsync("nouse0.0123456789abcdef")).Should().BeNull("a token not meant for authentication is refused");
    }

    [Fact]
    public async Task Token_review_says_whom_a_token_stands_for()
    {
        var known = await Post(_admin, "/apis/authentication.k8s.io/v1/tokenreviews", """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"ops-token-31415926"}}""");
        known.StatusCode.Should().Be(HttpStatusCode.Created);
        var status = (await known.Content.ReadFromJsonAsync<JsonObject>())!["status"]!;
        (status["authenticated"]!.GetValue<bool>(), status["user"]!["username"]!.ToString()).Should().Be((true, "carol"));

        var unknown = await Post(_admin, "/apis/authentication.k8s.io/v1/tokenreviews", """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"nonsense"}}""");
        (await unknown.Content.ReadFromJsonAsync<JsonObject>())!["status"]!["authenticated"]!.GetValue<bool>().Should().BeFalse();
    }

    [Fact]
    public async Task With_anonymous_auth_a_request_without_credentials_is_system_anonymous_and_a_wrong_one_is_still_401()
    {
        using var nobody = _server.Http(anonymous: true);
        var listed = await nobody.GetAsync("/api/v1/namespaces/kube-system/pods");
        listed.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await listed.Content.ReadFromJsonAsync<JsonObject>())!["message"]!.ToString().Should().Be("pods is forbidden: User \"system:anonymous\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"");

        using var wrong = _server.Http(anonymous: true);
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-token");
        (await wrong.GetAsync("/api/v1/namespaces/kube-system/pods")).StatusCode.Should().Be(HttpStatusCode.Unauthorized, "a credential that fails is not anonymous");
    }

    private async Task BootstrapSecretAsync(string id, string secret, DateTimeOffset? expiration, string usage)
    {
        var data = new JsonObject
        {
            ["token-id"] = id,
            ["token-secret"] = secret,
            ["usage-bootstrap-authentication"] = usage,
            ["auth-extra-groups"] = "system:bootstrappers:workers",
        };
        if (expiration is { } at)
        {
            data["expiration"] = at.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        }

        var body = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Secret", ["metadata"] = new JsonObject { ["name"] = $"bootstrap-token-{id}" }, ["type"] = "bootstrap.kubernetes.io/token", ["stringData"] = data };
        (await Post(_admin, "/api/v1/namespaces/kube-system/secrets", body.ToJsonString())).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    private async Task<JsonNode?> WhoAmIAsync(string token)
    {
        using var client = _server.Http(anonymous: true);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var response = await Post(client, "/apis/authentication.k8s.io/v1/selfsubjectreviews", """{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}""");
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            return null;
        }

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["status"]!["userInfo"];
    }

    private static Task<HttpResponseMessage> Post(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
}
