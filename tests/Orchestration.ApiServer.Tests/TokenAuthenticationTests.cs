using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Orchestration.ApiServer.Security;
using Orchestration.TestKit;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// ServiceAccount tokens over HTTPS: what a TokenRequest returns authenticates as the ServiceAccount
/// until it expires or its pod goes; every forged, altered, expired, foreign or unbound credential
/// gets the same 401 and writes nothing.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TokenAuthenticationTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private TestApiServer _server = null!;
    private HttpClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(_clock);
        _admin = _server.Http();
        (await PostAsync(_admin, "/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        (await PostAsync(_admin, "/api/v1/namespaces/team/serviceaccounts", """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"robot"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_requested_token_authenticates_as_the_service_account_until_it_expires()
    {
        var token = await RequestTokenAsync("""{"spec":{"expirationSeconds":600}}""");
        var userInfo = await WhoAmIAsync(token);
        userInfo.Should().NotBeNull();
        userInfo!["username"]!.ToString().Should().Be("system:serviceaccount:team:robot");
        userInfo["groups"]!.AsArray().Select(g => g!.ToString()).Should().Equal("system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated");

        _clock.Advance(TimeSpan.FromSeconds(601));
        (await WhoAmIAsync(token)).Should().BeNull("an expired token is refused");
    }

    [Fact]
    public async Task A_token_bound_to_a_pod_stops_working_once_the_pod_is_deleted()
    {
        (await PostAsync(_admin, "/api/v1/namespaces/team/pods", """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"worker"},"spec":{"serviceAccountName":"robot","containers":[{"name":"c","image":"busybox"}]}}"""))
            .StatusCode.Should().Be(HttpStatusCode.Created);
        var token = await RequestTokenAsync("""{"spec":{"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"worker"}}}""");
        var userInfo = await WhoAmIAsync(token);
        userInfo!["extra"]!["authentication.kubernetes.io/pod-name"]!.AsArray().Single()!.ToString().Should().Be("worker");

        (await _admin.DeleteAsync("/api/v1/namespaces/team/pods/worker?gracePeriodSeconds=0")).IsSuccessStatusCode.Should().BeTrue();
        (await Eventually.HoldsAsync(async () => await WhoAmIAsync(token) is null, 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("a token bound to a pod ends with the pod");
    }

    [Fact]
    public async Task Forged_altered_foreign_and_unbound_credentials_get_401_and_write_nothing()
    {
        var good = await RequestTokenAsync("{}");
        var parts = good.Split('.');
        var payload = JsonNode.Parse(Base64UrlEncoder.Decode(parts[1]))!.AsObject();
        payload["sub"] = "system:serviceaccount:kube-system:default";
        var altered = $"{parts[0]}.{Base64UrlEncoder.Encode(payload.ToJsonString())}.{parts[2]}";
        var unsigned = $"{Base64UrlEncoder.Encode("""{"alg":"none","typ":"JWT"}""")}.{parts[1]}.";
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var forged = new JsonWebTokenHandler().CreateToken(payload.ToJsonString(), new SigningCredentials(new ECDsaSecurityKey(otherKey) { KeyId = "forged" }, SecurityAlgorithms.EcdsaSha256));
        var otherAudience = await RequestTokenAsync("""{"spec":{"audiences":["https://vault.example.com"]}}""");
        var cases = new Dictionary<string, string>
        {
            ["signed by another key"] = forged,
            ["payload altered after signing"] = altered,
            ["alg none"] = unsigned,
            ["for another audience"] = otherAudience,
            ["not a JWT"] = "hello",
        };

        foreach (var (what, token) in cases)
        {
            using var client = Anonymous(token);
            var created = await PostAsync(client, "/api/v1/namespaces/team/configmaps", $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"by-{{{what.Replace(' ', '-')}}}"}}""");
            created.StatusCode.Should().Be(HttpStatusCode.Unauthorized, what);
            var status = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
            (status["kind"]!.ToString(), status["reason"]!.ToString()).Should().Be(("Status", "Unauthorized"), what);
        }

        (await _admin.GetFromJsonAsync<JsonObject>("/api/v1/namespaces/team/configmaps"))!["items"]!.AsArray().Should().BeEmpty("no refused credential wrote anything");

        // A client certificate from another CA.
        var otherCa = ClusterCertificates.LoadOrCreate(Directory.CreateTempSubdirectory("orch-other-ca-").FullName, TimeProvider.System);
        var strangerCredentials = otherCa.ClientConfiguration(_server.Url, "admin", ["system:masters"], TimeProvider.System);
        strangerCredentials.SslCaCerts = [_server.Certificates.Authority];
        using var stranger = new HttpClient(Orchestration.Client.ClusterHttpHandler.Create(strangerCredentials))
        {
            BaseAddress = new Uri(_server.Url),
        };
        (await stranger.GetAsync("/api/v1/namespaces")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        // A deleted and recreated ServiceAccount does not honour the old one's tokens.
        (await _admin.DeleteAsync("/api/v1/namespaces/team/serviceaccounts/robot")).IsSuccessStatusCode.Should().BeTrue();
        (await PostAsync(_admin, "/api/v1/namespaces/team/serviceaccounts", """{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"robot"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        (await WhoAmIAsync(good)).Should().BeNull("the token names the old ServiceAccount's uid");
    }

    [Fact]
    public async Task A_token_request_below_ten_minutes_or_for_a_missing_account_is_refused()
    {
        var shortLived = await PostAsync(_admin, "/api/v1/namespaces/team/serviceaccounts/robot/token", """{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":60}}""");
        shortLived.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await shortLived.Content.ReadFromJsonAsync<JsonObject>())!["message"]!.ToString().Should().Be("TokenRequest \"robot\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes");
        (await PostAsync(_admin, "/api/v1/namespaces/team/serviceaccounts/ghost/token", "{}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    private async Task<string> RequestTokenAsync(string body)
    {
        var response = await PostAsync(_admin, "/api/v1/namespaces/team/serviceaccounts/robot/token", body);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!["status"]!["token"]!.ToString();
    }

    // The user the token authenticates as, or null on a 401.
    private async Task<JsonNode?> WhoAmIAsync(string token)
    {
        using var client = Anonymous(token);
        var response = await PostAsync(client, "/apis/authentication.k8s.io/v1/selfsubjectreviews", """{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}""");
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            return null;
        }

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["status"]!["userInfo"];
    }

    private HttpClient Anonymous(string token)
    {
        var client = _server.Http(anonymous: true);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
}
