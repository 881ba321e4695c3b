using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// Admission webhooks against a webhook server this test starts on loopback (HTTPS with its own CA,
/// given as the caBundle): a mutating webhook's JSONPatch is applied, a validating one's refusal
/// reaches the client, and an unreachable or slow webhook refuses under failurePolicy Fail and is
/// skipped under Ignore.
/// </summary>
[Trait("Category", "Integration")]
public sealed class AdmissionWebhookTests : IAsyncLifetime
{
    private TestApiServer _server = null!;
    private HttpClient _admin = null!;
    private TestWebhookServer _webhooks = null!;
    private string _webhookUrl = "";

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(TimeProvider.System);
        _admin = _server.Http();
        _webhooks = await TestWebhookServer.StartAsync(new Dictionary<string, (TimeSpan, Func<JsonObject, JsonObject>)>
        {
            ["/label"] = (TimeSpan.Zero, review => TestWebhookServer.Allowed(review, """[{"op":"add","path":"/metadata/labels","value":{"mutated":"yes"}}]""")),
            ["/user"] = (TimeSpan.Zero, review => review["request"]!["userInfo"]!["username"]!.ToString() == "admin" && review["request"]!["userInfo"]!["groups"]!.AsArray().Any(g => g!.ToString() == "system:masters")
                ? TestWebhookServer.Allowed(review)
                : new JsonObject { ["uid"] = review["request"]!["uid"]!.ToString(), ["allowed"] = false, ["status"] = new JsonObject { ["code"] = 403, ["message"] = $"unexpected user {review["request"]!["userInfo"]!.ToJsonString()}" } }),
            ["/deny"] = (TimeSpan.Zero, review => review["request"]!["object"]!["data"]?["forbidden"] is null
                ? TestWebhookServer.Allowed(review)
                : new JsonObject { ["uid"] = review["request"]!["uid"]!.ToString(), ["allowed"] = false, ["status"] = new JsonObject { ["code"] = 403, ["message"] = "no key may be called forbidden" } }),
            ["/slow"] = (TimeSpan.FromSeconds(3), review => TestWebhookServer.Allowed(review)),
        });
        _webhookUrl = _webhooks.Url;
        (await PostAsync("/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hooked","labels":{"webhooks":"on"}}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        (await PostAsync("/api/v1/namespaces", """{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"plain"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _webhooks.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_mutating_webhooks_patch_is_applied_and_a_validating_webhooks_refusal_reaches_the_client()
    {
        await ConfigureAsync("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", "label.example.com", "/label", "configmaps", "Fail", 10, namespaceSelector: true);
        await ConfigureAsync("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "deny.example.com", "/deny", "configmaps", "Fail", 10, namespaceSelector: false);

        var created = await PostAsync("/api/v1/namespaces/hooked/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}""");
        created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        (await created.Content.ReadFromJsonAsync<JsonObject>())!["metadata"]!["labels"]!["mutated"]!.ToString().Should().Be("yes", "the webhook's patch is part of what was stored");
        var unselected = await (await PostAsync("/api/v1/namespaces/plain/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}""")).Content.ReadFromJsonAsync<JsonObject>();
        unselected!["metadata"]!["labels"].Should().BeNull("the namespaceSelector leaves other namespaces out");

        var refused = await PostAsync("/api/v1/namespaces/plain/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"forbidden":"x"}}""");
        refused.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await refused.Content.ReadFromJsonAsync<JsonObject>())!["message"]!.ToString().Should().Be("admission webhook \"deny.example.com\" denied the request: no key may be called forbidden");
        (await _admin.GetAsync("/api/v1/namespaces/plain/configmaps/c")).StatusCode.Should().Be(HttpStatusCode.NotFound, "a refused write writes nothing");
    }

    [Fact]
    public async Task The_review_names_the_user_who_asked()
    {
        await ConfigureAsync("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "user.example.com", "/user", "services", "Fail", 10, namespaceSelector: false);

        var created = await PostAsync("/api/v1/namespaces/plain/services", """{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}}""");

        created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_unreachable_or_slow_webhook_refuses_under_fail_and_is_skipped_under_ignore()
    {
        await ConfigureAsync("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "slow.example.com", "/slow", "secrets", "Fail", 1, namespaceSelector: false);
        var slow = await PostAsync("/api/v1/namespaces/plain/secrets", """{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1"}}""");
        slow.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        (await slow.Content.ReadFromJsonAsync<JsonObject>())!["message"]!.ToString().Should().Be("Internal error occurred: failed calling webhook \"slow.example.com\": the webhook did not answer in time (context deadline exceeded)");

        (await _admin.DeleteAsync("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/slow.example.com")).IsSuccessStatusCode.Should().BeTrue();
        _webhookUrl = "https://127.0.0.1:1";
        await ConfigureAsync("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "gone.example.com", "/x", "secrets", "Ignore", 2, namespaceSelector: false);
        (await PostAsync("/api/v1/namespaces/plain/secrets", """{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s2"}}""")).StatusCode.Should().Be(HttpStatusCode.Created, "failurePolicy Ignore lets the write through");
        await ConfigureAsync("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", "gone-fail.example.com", "/x", "secrets", "Fail", 2, namespaceSelector: false);
        var unreachable = await PostAsync("/api/v1/namespaces/plain/secrets", """{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s3"}}""");
        unreachable.StatusCode.Should().Be(HttpStatusCode.InternalServerError);
        (await unreachable.Content.ReadFromJsonAsync<JsonObject>())!["message"]!.ToString().Should().StartWith("Internal error occurred: failed calling webhook \"gone-fail.example.com\": failed to call webhook:");
    }

    private async Task ConfigureAsync(string plural, string kind, string name, string path, string resource, string failurePolicy, int timeoutSeconds, bool namespaceSelector)
    {
        var selector = namespaceSelector ? new JsonObject { ["matchLabels"] = new JsonObject { ["webhooks"] = "on" } } : null;
        var configuration = TestWebhookServer.Configuration(kind, name, _webhookUrl + path, _webhooks.CaBundle, resource, failurePolicy, timeoutSeconds, selector);
        var response = await PostAsync($"/apis/admissionregistration.k8s.io/v1/{plural}", configuration.ToJsonString());
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> PostAsync(string path, string json) =>
        _admin.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
}
