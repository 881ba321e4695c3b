using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;

namespace Orchestration.ApiServer.Tests;

/// <summary>
/// Inputs the fuzzer (scripts/fuzz.sh) found to break the server, each kept as the regression test
/// of its fix: bad input gets a Status error naming the problem, never a 500.
/// </summary>
[Trait("Category", "Integration")]
public sealed class FuzzFindingsTests
{
    // From the json target: a byte that is not UTF-8 inside a string ("Deploym\x80nt").
    private static readonly byte[] InvalidUtf8 = [.. "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deploym"u8, 0x80, .. "nt\", \"metadata\": {\"name\": \"d\"}}"u8];

    [Fact]
    public void A_json_body_that_is_not_utf8_is_a_bad_request_before_any_field_is_read()
    {
        var act = () => RequestBodies.ParseObject(InvalidUtf8, yaml: false);

        act.Should().Throw<BadRequestException>().WithMessage("the request body is not valid JSON: it is not valid UTF-8 text");
    }

    // From the yaml and apply targets: YamlDotNet throws InvalidOperationException, not a
    // YamlException, for a plain scalar cut by a line break inside nested flow collections, and
    // ArgumentException for an empty key in a nested block mapping.
    [Theory]
    [InlineData("a: {b: [{c}\nd: e}]")]
    [InlineData("a:\n  : 2\n")]
    [InlineData("apiVersion: v1\nkind: Pod\nmetadata:\n  nals: {tts: [{containerPortfront}\nspec:\n  containers:\n  - name: main\n    image: nginxbeme: web\n  la\n    porier: : 8080, protocol: TCP}]")]
    public void Malformed_flow_yaml_that_trips_the_yaml_library_is_a_bad_request(string yaml)
    {
        var act = () => YamlDocuments.Parse(yaml);

        act.Should().Throw<BadRequestException>().WithMessage("error converting YAML to JSON: yaml: the text is not valid YAML*");
    }

    [Fact]
    public async Task An_apply_patch_of_such_yaml_gets_400_not_500()
    {
        await using var server = await TestApiServer.StartAsync(TimeProvider.System);
        using var http = server.Http();
        using var content = new StringContent("a: {b: [{c}\nd: e}]", Encoding.UTF8, "application/apply-patch+yaml");

        var response = await http.PatchAsync("/api/v1/namespaces/default/configmaps/c?fieldManager=test", content);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_create_whose_body_is_not_utf8_gets_400_and_stores_nothing()
    {
        await using var server = await TestApiServer.StartAsync(TimeProvider.System);
        using var http = server.Http();
        using var content = new ByteArrayContent(InvalidUtf8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        var response = await http.PostAsync("/apis/apps/v1/namespaces/default/deployments", content);

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        (await response.Content.ReadAsStringAsync()).Should().Contain("not valid UTF-8");
        (await http.GetAsync("/apis/apps/v1/namespaces/default/deployments/d")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        Encoding.UTF8.GetString(InvalidUtf8).Should().Contain("\uFFFD", "the input really holds an invalid byte");
    }
}
