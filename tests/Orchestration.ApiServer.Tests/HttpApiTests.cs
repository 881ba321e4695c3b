using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace Orchestration.ApiServer.Tests;

/// <summary>The REST API over HTTPS, request by request: status codes, Status bodies, content negotiation and watch semantics.</summary>
[Trait("Category", "Integration")]
public sealed class HttpApiTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private TestApiServer? _server;
    private HttpClient? _http;

    private HttpClient Http => _http!;

    public async Task InitializeAsync()
    {
        _server = await TestApiServer.StartAsync(_clock, api => api.DefaultWatchTimeout = TimeSpan.FromSeconds(30));
        _http = _server.Http();
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces", """{"metadata":{"name":"default"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Create_is_201_with_server_fields_and_get_returns_the_same_object()
    {
        var created = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}""");
        var body = await BodyAsync(created);
        var fetched = await BodyAsync(await Http.GetAsync("/api/v1/namespaces/default/configmaps/c"));

        created.StatusCode.Should().Be(HttpStatusCode.Created);
        body["metadata"]!["uid"]!.ToString().Should().NotBeEmpty();
        body["metadata"]!["creationTimestamp"]!.ToString().Should().Be("2026-03-01T12:00:00Z");
        JsonNode.DeepEquals(body, fetched).Should().BeTrue();
    }

    [Theory]
    [InlineData("""{"metadata":{"name":"x"}""", "not valid JSON")]
    [InlineData("""[1,2]""", "must be a JSON object")]
    [InlineData("""{"metadata":{"name":"x"},"metadata":{"name":"y"}}""", "not valid JSON")]
    [InlineData("""{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}""", "does not match the expected API version")]
    public async Task Malformed_bodies_are_400_and_store_nothing(string body, string message)
    {
        var response = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", body);

        await ExpectStatusAsync(response, 400, "BadRequest", message);
        await ExpectNoConfigMapsAsync();
    }

    [Theory]
    [InlineData("POST", "/api/v1/namespaces/default/configmaps", "application/json", """{"metadata":[]}""", 400)]
    [InlineData("POST", "/apis/apps/v1/namespaces/default/deployments", "application/json", """{"metadata":{"name":"d"},"spec":{"template":"x","selector":{"matchLabels":{"a":"b"}}}}""", 400)]
    [InlineData("POST", "/apis/batch/v1/namespaces/default/jobs", "application/json", """{"metadata":{"name":"j"},"spec":{"parallelism":"1","template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"i"}]}}}}""", 400)]
    [InlineData("POST", "/api/v1/namespaces/default/configmaps", "application/json", """{"metadata":{"name":"a","annotations":{"bad key!":"x"}}}""", 422)]
    [InlineData("POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "a: &x [*x]\n", 400)]
    [InlineData("POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "metadata:\n  name: a\n  name: b\n", 400)]
    [InlineData("POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "? [a]\n: b\n", 400)]
    [InlineData("POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "metadata: {name: a}\ndata: {x: 1e400}\n", 400)]
    [InlineData("POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", 400)]
    [InlineData("DELETE", "/api/v1/namespaces/default/configmaps/keep", "application/json", """{"orphanDependents":"true","preconditions":"x"}""", 400)]
    [InlineData("PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/merge-patch+json", """{"data":{"a":"1"},"data":{"a":"2"}}""", 400)]
    [InlineData("PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/json-patch+json", """[{"op":"add","value":1}]""", 400)]
    [InlineData("PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/json-patch+json", """[{"op":"frobnicate","path":"/data"}]""", 400)]
    [InlineData("PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/json-patch+json", """[{"op":"remove","path":"/data/missing"}]""", 422)]
    [InlineData("PATCH", "/api/v1/namespaces/default/configmaps/keep", "application/json-patch+json", """[{"op":"test","path":"/data/k","value":"other"}]""", 422)]
    [InlineData("PATCH", "/api/v1/namespaces/default/configmaps/keep?fieldManager=x", "application/apply-patch+yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n", 400)]
    [InlineData("PATCH", "/api/v1/namespaces/default/configmaps/keep?fieldManager=x", "application/apply-patch+yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: keep\n", 400)]
    [InlineData("PUT", "/apis/apps/v1/namespaces/default/deployments/none/scale", "application/json", """{"spec":"x"}""", 404)]
    [InlineData("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=data.k%3Dv", "", "", 400)]
    public async Task Bodies_and_parameters_of_the_wrong_shape_are_client_errors_that_change_nothing(string method, string path, string contentType, string body, int code)
    {
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"keep"},"data":{"k":"v"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);

        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (contentType.Length > 0)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        var response = await Http.SendAsync(request);
        var list = await BodyAsync(await Http.GetAsync("/api/v1/namespaces/default/configmaps"));

        ((int)response.StatusCode).Should().Be(code, await response.Content.ReadAsStringAsync());
        (await BodyAsync(response))["kind"]!.ToString().Should().Be("Status");
        list["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.ToString()).Should().Equal("keep");
        list["items"]![0]!["data"]!.ToJsonString().Should().Be("""{"k":"v"}""", "the refused request changed nothing");
    }

    [Fact]
    public async Task Custom_objects_are_checked_against_their_schema()
    {
        var crd = """
            {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"gadgets.test.io"},
             "spec":{"group":"test.io","scope":"Namespaced","names":{"plural":"gadgets","kind":"Gadget"},
              "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","required":["spec"],
                "properties":{"spec":{"type":"object","required":["size"],"properties":{"size":{"type":"integer","minimum":1},"mode":{"type":"string","enum":["a","b"]}}}}}}}]}}
            """;
        (await SendAsync(HttpMethod.Post, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)).StatusCode.Should().Be(HttpStatusCode.Created);

        var good = await SendAsync(HttpMethod.Post, "/apis/test.io/v1/namespaces/default/gadgets", """{"apiVersion":"test.io/v1","kind":"Gadget","metadata":{"name":"g"},"spec":{"size":2,"mode":"a"}}""");
        var bad = await SendAsync(HttpMethod.Post, "/apis/test.io/v1/namespaces/default/gadgets", """{"apiVersion":"test.io/v1","kind":"Gadget","metadata":{"name":"h"},"spec":{"size":"big","mode":"c"}}""");
        var missing = await SendAsync(HttpMethod.Post, "/apis/test.io/v1/namespaces/default/gadgets", """{"apiVersion":"test.io/v1","kind":"Gadget","metadata":{"name":"i"},"spec":{}}""");
        var badMeta = await SendAsync(HttpMethod.Post, "/apis/test.io/v1/namespaces/default/gadgets", """{"apiVersion":"test.io/v1","kind":"Gadget","metadata":{"name":"j","labels":{"a":1}},"spec":{"size":1}}""");

        good.StatusCode.Should().Be(HttpStatusCode.Created);
        var causes = (await BodyAsync(bad))["details"]!["causes"]!.AsArray().Select(c => c!["field"]!.ToString());
        causes.Should().BeEquivalentTo("spec.size", "spec.mode");
        await ExpectStatusAsync(missing, 422, "Invalid", "spec.size: Required value");
        badMeta.StatusCode.Should().Be(HttpStatusCode.BadRequest, "metadata is checked as Kubernetes metadata");
    }

    [Fact]
    public async Task Delete_preconditions_on_the_resource_version_refuse_a_stale_delete()
    {
        var created = await BodyAsync(await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"c"}}"""));
        var stale = created["metadata"]!["resourceVersion"]!.ToString();
        (await SendAsync(HttpMethod.Patch, "/api/v1/namespaces/default/configmaps/c", """{"data":{"x":"y"}}""", "application/merge-patch+json")).StatusCode.Should().Be(HttpStatusCode.OK);

        using var request = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/namespaces/default/configmaps/c") { Content = new StringContent("{\"preconditions\":{\"resourceVersion\":\"" + stale + "\"}}", Encoding.UTF8, "application/json") };
        var refused = await Http.SendAsync(request);

        await ExpectStatusAsync(refused, 409, "Conflict", "Precondition failed: ResourceVersion in precondition");
        (await Http.GetAsync("/api/v1/namespaces/default/configmaps/c")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_yaml_body_is_read_like_json()
    {
        var response = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  port: \"8080\"\n", "application/yaml");

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        (await BodyAsync(response))["data"]!["port"]!.ToString().Should().Be("8080");
    }

    [Fact]
    public async Task Errors_of_the_http_layer_have_their_codes_and_status_bodies()
    {
        await ExpectStatusAsync(await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", "\u00a1", "application/cbor"), 415, "UnsupportedMediaType", "application/json");
        await ExpectStatusAsync(await SendAsync(HttpMethod.Put, "/api/v1/namespaces/default/configmaps", "{}"), 405, "MethodNotAllowed", "configmaps");
        await ExpectStatusAsync(await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", "{\"data\":{\"a\":\"" + new string('x', (3 * 1024 * 1024) + 10) + "\"}}"), 413, "RequestEntityTooLarge", "3145728");
        await ExpectStatusAsync(await Http.GetAsync("/api/v1/frobnicators"), 404, "NotFound", "could not find the requested resource");
        await ExpectStatusAsync(await Http.GetAsync("/apis/apps/v2/deployments"), 404, "NotFound", "could not find the requested resource");
        await ExpectStatusAsync(await Http.GetAsync("/no/such/path"), 404, "NotFound", "could not find");
        await ExpectStatusAsync(await SendAsync(HttpMethod.Patch, "/api/v1/namespaces/default/configmaps/x", "{}", "text/plain"), 415, "UnsupportedMediaType", "application/merge-patch+json");
        await ExpectStatusAsync(await SendAsync(HttpMethod.Post, "/api/v1/namespaces/missing/configmaps", """{"metadata":{"name":"x"}}"""), 404, "NotFound", "namespaces \"missing\" not found");
        await ExpectNoConfigMapsAsync();
    }

    [Fact]
    public async Task A_request_without_a_client_certificate_is_401()
    {
        using var anonymous = _server!.Http(anonymous: true);

        await ExpectStatusAsync(await anonymous.GetAsync("/api/v1/namespaces"), 401, "Unauthorized", "Unauthorized");
    }

    [Theory]
    [InlineData("Strict", HttpStatusCode.BadRequest, false)]
    [InlineData("Warn", HttpStatusCode.Created, true)]
    [InlineData("Ignore", HttpStatusCode.Created, false)]
    public async Task Field_validation_decides_what_unknown_fields_do(string mode, HttpStatusCode expected, bool warns)
    {
        var response = await SendAsync(HttpMethod.Post, $"/apis/apps/v1/namespaces/default/deployments?fieldValidation={mode}", Deployment("d", extraSpec: "\"replicaz\":3,"));

        response.StatusCode.Should().Be(expected);
        response.Headers.TryGetValues("Warning", out var warnings).Should().Be(warns);
        if (warns)
        {
            warnings!.Single().Should().Contain("unknown field \\\"spec.replicaz\\\"");
        }

        if (expected == HttpStatusCode.Created)
        {
            (await BodyAsync(response))["spec"]!.AsObject().ContainsKey("replicaz").Should().BeFalse("unknown fields are dropped, as Kubernetes prunes them");
        }
        else
        {
            (await response.Content.ReadAsStringAsync()).Should().Contain("strict decoding error: unknown field \\u0022spec.replicaz\\u0022");
        }
    }

    [Fact]
    public async Task Dry_run_returns_the_result_and_stores_nothing()
    {
        var response = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps?dryRun=All", """{"metadata":{"name":"dry"}}""");

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        (await BodyAsync(response))["metadata"]!["name"]!.ToString().Should().Be("dry");
        await ExpectNoConfigMapsAsync();
    }

    [Fact]
    public async Task Scale_reads_and_writes_the_replicas_of_a_deployment()
    {
        (await SendAsync(HttpMethod.Post, "/apis/apps/v1/namespaces/default/deployments", Deployment("web"))).StatusCode.Should().Be(HttpStatusCode.Created);

        var scale = await BodyAsync(await Http.GetAsync("/apis/apps/v1/namespaces/default/deployments/web/scale"));
        var patched = await SendAsync(HttpMethod.Patch, "/apis/apps/v1/namespaces/default/deployments/web/scale", """{"spec":{"replicas":4}}""", "application/merge-patch+json");
        var deployment = await BodyAsync(await Http.GetAsync("/apis/apps/v1/namespaces/default/deployments/web"));

        scale["kind"]!.ToString().Should().Be("Scale");
        scale["spec"]!["replicas"]!.GetValue<int>().Should().Be(1);
        scale["status"]!["selector"]!.ToString().Should().Be("app=web");
        patched.StatusCode.Should().Be(HttpStatusCode.OK);
        deployment["spec"]!["replicas"]!.GetValue<int>().Should().Be(4);
    }

    [Fact]
    public async Task Writes_record_their_manager_and_apply_then_conflicts_with_a_field_another_write_changed()
    {
        var apply = Deployment("web").Replace("\"selector\"", "\"replicas\":2,\"selector\"", StringComparison.Ordinal);
        (await SendAsync(HttpMethod.Patch, "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=ci", apply, "application/apply-patch+yaml")).StatusCode.Should().Be(HttpStatusCode.Created);
        (await SendAsync(HttpMethod.Patch, "/apis/apps/v1/namespaces/default/deployments/web/scale?fieldManager=autoscaler", """{"spec":{"replicas":5}}""", "application/merge-patch+json")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await SendAsync(HttpMethod.Patch, "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=labeler", """{"metadata":{"labels":{"team":"a"}}}""", "application/merge-patch+json")).StatusCode.Should().Be(HttpStatusCode.OK);

        var managed = (await BodyAsync(await Http.GetAsync("/apis/apps/v1/namespaces/default/deployments/web")))["metadata"]!["managedFields"]!.AsArray();
        var reapply = await SendAsync(HttpMethod.Patch, "/apis/apps/v1/namespaces/default/deployments/web?fieldManager=ci", apply, "application/apply-patch+yaml");

        managed.Select(m => $"{m!["manager"]}/{m["operation"]}/{m["subresource"]}").Should().BeEquivalentTo("ci/Apply/", "autoscaler/Update/scale", "labeler/Update/");
        managed.Single(m => m!["manager"]!.ToString() == "ci")!["fieldsV1"]!.ToJsonString().Should().NotContain("f:replicas", "the scale took spec.replicas from its applier");
        await ExpectStatusAsync(reapply, 409, "Conflict", "conflict with \"autoscaler\"");
    }

    [Fact]
    public async Task A_secrets_string_data_is_stored_as_data()
    {
        var created = await BodyAsync(await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/secrets", """{"metadata":{"name":"s"},"data":{"a":"YQ=="},"stringData":{"b":"bee"}}"""));

        created["data"]!.ToJsonString().Should().Be("""{"a":"YQ==","b":"YmVl"}""");
        created.AsObject().ContainsKey("stringData").Should().BeFalse();
        created["type"]!.ToString().Should().Be("Opaque");
    }

    [Fact]
    public async Task Services_get_distinct_cluster_ips_and_node_ports_that_stay_and_are_released()
    {
        var created = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services", "{\"metadata\":{\"name\":\"s" + i + "\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}}")));
        var bodies = await Task.WhenAll(created.Select(BodyAsync));
        var ips = bodies.Select(b => b["spec"]!["clusterIP"]!.ToString()).ToList();
        var ports = bodies.Select(b => b["spec"]!["ports"]![0]!["nodePort"]!.GetValue<int>()).ToList();
        var first = ips[0];

        var taken = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services", "{\"metadata\":{\"name\":\"copy\"},\"spec\":{\"clusterIP\":\"" + first + "\",\"ports\":[{\"port\":80}]}}");
        var patched = await BodyAsync(await SendAsync(HttpMethod.Patch, "/api/v1/namespaces/default/services/s0", """{"spec":{"ports":[{"port":80,"targetPort":9090}]}}""", "application/strategic-merge-patch+json"));
        (await Http.DeleteAsync("/api/v1/namespaces/default/services/s0")).StatusCode.Should().Be(HttpStatusCode.OK);
        var reused = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services", "{\"metadata\":{\"name\":\"copy\"},\"spec\":{\"clusterIP\":\"" + first + "\",\"ports\":[{\"port\":80}]}}");

        created.Should().AllSatisfy(r => r.StatusCode.Should().Be(HttpStatusCode.Created));
        ips.Should().OnlyHaveUniqueItems().And.AllSatisfy(ip => System.Net.IPNetwork.Parse("10.96.0.0/12").Contains(System.Net.IPAddress.Parse(ip)).Should().BeTrue());
        ips.Should().NotContain("10.96.0.1", "the first address is the kubernetes service's");
        ports.Should().OnlyHaveUniqueItems().And.AllSatisfy(p => p.Should().BeInRange(30000, 32767));
        await ExpectStatusAsync(taken, 422, "Invalid", "provided IP is already allocated");
        patched["spec"]!["clusterIP"]!.ToString().Should().Be(first);
        patched["spec"]!["ports"]![0]!["nodePort"]!.GetValue<int>().Should().Be(ports[0], "an update keeps the node port it does not name");
        reused.StatusCode.Should().Be(HttpStatusCode.Created, "a deleted service gives its address back");
    }

    [Fact]
    public async Task A_cluster_ip_or_node_port_that_is_taken_or_out_of_range_is_refused_with_its_field()
    {
        var first = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services", """{"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}}""");
        first.StatusCode.Should().Be(HttpStatusCode.Created);

        var outside = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services", """{"metadata":{"name":"far"},"spec":{"clusterIP":"10.0.0.5","ports":[{"port":80}]}}""");
        var portTaken = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services", """{"metadata":{"name":"same"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}}""");
        var portOutside = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/services", """{"metadata":{"name":"low"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":20000}]}}""");

        await ExpectStatusAsync(outside, 422, "Invalid", "spec.clusterIPs: Invalid value");
        await ExpectStatusAsync(outside, 422, "Invalid", "provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12");
        await ExpectStatusAsync(portTaken, 422, "Invalid", "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated");
        await ExpectStatusAsync(portOutside, 422, "Invalid", "spec.ports[0].nodePort: Invalid value: 20000: provided port is not in the valid range. The range of valid ports is 30000-32767");
        var list = await BodyAsync(await Http.GetAsync("/api/v1/namespaces/default/services"));
        list["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.ToString()).Should().NotContain(["far", "same", "low"], "a refused Service is not stored");
    }

    [Fact]
    public async Task Binding_assigns_a_pod_once_and_marks_it_scheduled()
    {
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}""")).StatusCode.Should().Be(HttpStatusCode.Created);

        var bound = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/pods/p/binding", """{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n1"}}""");
        var again = await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/pods/p/binding", """{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n2"}}""");
        var pod = await BodyAsync(await Http.GetAsync("/api/v1/namespaces/default/pods/p"));

        bound.StatusCode.Should().Be(HttpStatusCode.Created);
        await ExpectStatusAsync(again, 409, "Conflict", "already assigned to node \"n1\"");
        pod["spec"]!["nodeName"]!.ToString().Should().Be("n1");
        pod["status"]!["conditions"]!.AsArray().Should().Contain(c => c!["type"]!.ToString() == "PodScheduled" && c["status"]!.ToString() == "True");
    }

    [Fact]
    public async Task Finalizers_keep_a_deleted_object_with_a_deletion_timestamp_until_they_are_removed()
    {
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"held","finalizers":["example.com/hold"]}}""")).StatusCode.Should().Be(HttpStatusCode.Created);

        var deleted = await Http.DeleteAsync("/api/v1/namespaces/default/configmaps/held");
        var marked = await BodyAsync(await Http.GetAsync("/api/v1/namespaces/default/configmaps/held"));
        var released = await SendAsync(HttpMethod.Patch, "/api/v1/namespaces/default/configmaps/held", """{"metadata":{"finalizers":null}}""", "application/merge-patch+json");
        var gone = await Http.GetAsync("/api/v1/namespaces/default/configmaps/held");

        deleted.StatusCode.Should().Be(HttpStatusCode.Accepted);
        marked["metadata"]!["deletionTimestamp"].Should().NotBeNull();
        released.StatusCode.Should().Be(HttpStatusCode.OK);
        gone.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Delete_collection_deletes_what_the_selector_matches()
    {
        foreach (var (name, tier) in new[] { ("a", "web"), ("b", "web"), ("c", "db") })
        {
            (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", "{\"metadata\":{\"name\":\"" + name + "\",\"labels\":{\"tier\":\"" + tier + "\"}}}")).StatusCode.Should().Be(HttpStatusCode.Created);
        }

        var deleted = await BodyAsync(await Http.DeleteAsync("/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dweb"));
        var left = await BodyAsync(await Http.GetAsync("/api/v1/namespaces/default/configmaps"));

        deleted["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.ToString()).Should().BeEquivalentTo("a", "b");
        left["items"]!.AsArray().Select(i => i!["metadata"]!["name"]!.ToString()).Should().Equal("c");
    }

    [Fact]
    public async Task Tables_carry_kubernetes_columns_and_wide_ones_at_priority_1()
    {
        (await SendAsync(HttpMethod.Post, "/apis/apps/v1/namespaces/default/deployments", Deployment("web"))).StatusCode.Should().Be(HttpStatusCode.Created);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/apis/apps/v1/namespaces/default/deployments");
        request.Headers.Accept.ParseAdd("application/json;as=Table;v=v1;g=meta.k8s.io");

        var table = await BodyAsync(await Http.SendAsync(request));

        table["kind"]!.ToString().Should().Be("Table");
        table["columnDefinitions"]!.AsArray().Select(c => $"{c!["name"]}:{c["priority"]}").Should().Equal("Name:0", "Ready:0", "Up-to-date:0", "Available:0", "Age:0", "Containers:1", "Images:1", "Selector:1");
        table["rows"]![0]!["cells"]!.AsArray().Select(c => c?.ToString()).Should().Equal("web", "0/1", "0", "0", "0s", "c", "busybox", "app=web");
        table["rows"]![0]!["object"]!["kind"]!.ToString().Should().Be("PartialObjectMetadata");
    }

    [Fact]
    public async Task Aggregated_discovery_answers_in_the_version_the_client_asks_for()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/apis");
        request.Headers.Accept.ParseAdd("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json");

        var response = await Http.SendAsync(request);
        var body = await BodyAsync(response);

        response.Content.Headers.ContentType!.ToString().Should().Contain("as=APIGroupDiscoveryList").And.Contain("v=v2");
        var apps = body["items"]!.AsArray().Single(i => i!["metadata"]!["name"]!.ToString() == "apps")!;
        var deployments = apps["versions"]![0]!["resources"]!.AsArray().Single(r => r!["resource"]!.ToString() == "deployments")!;
        deployments["shortNames"]!.AsArray().Select(s => s!.ToString()).Should().Equal("deploy");
        deployments["subresources"]!.AsArray().Select(s => s!["subresource"]!.ToString()).Should().BeEquivalentTo("status", "scale");
    }

    [Fact]
    public async Task OpenApi_documents_describe_the_kinds_and_advertise_server_side_field_validation()
    {
        var index = await BodyAsync(await Http.GetAsync("/openapi/v3"));
        var url = index["paths"]!["apis/apps/v1"]!["serverRelativeURL"]!.ToString();
        var apps = await BodyAsync(await Http.GetAsync(url));
        var v2 = await BodyAsync(await Http.GetAsync("/openapi/v2"));
        using var protobuf = new HttpRequestMessage(HttpMethod.Get, "/openapi/v2");
        protobuf.Headers.TryAddWithoutValidation("Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
        var empty = await Http.SendAsync(protobuf);

        index["paths"]!.AsObject().Select(p => p.Key).Should().Contain(["api/v1", "apis/apps/v1", "apis/apiextensions.k8s.io/v1"]);
        var patch = apps["paths"]!["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]!["patch"]!;
        patch["parameters"]!.AsArray().Select(p => p!["name"]!.ToString()).Should().Contain("fieldValidation");
        patch["x-kubernetes-group-version-kind"]!["kind"]!.ToString().Should().Be("Deployment");
        var deployment = apps["components"]!["schemas"]!.AsObject().Single(s => s.Value!["x-kubernetes-group-version-kind"]?.AsArray().Any(g => g!["kind"]!.ToString() == "Deployment") == true).Value!;
        deployment["properties"]!["spec"]!["allOf"]![0]!["$ref"]!.ToString().Should().StartWith("#/components/schemas/");
        var podSpec = apps["components"]!["schemas"]!.AsObject().Single(s => s.Key.EndsWith(".PodSpec", StringComparison.Ordinal)).Value!;
        podSpec["properties"]!["containers"]!["x-kubernetes-patch-merge-key"]!.ToString().Should().Be("name");
        v2["swagger"]!.ToString().Should().Be("2.0");
        v2["definitions"]!.AsObject().Count.Should().BeGreaterThan(50);
        empty.StatusCode.Should().Be(HttpStatusCode.OK);
        (await empty.Content.ReadAsByteArrayAsync()).Should().BeEmpty("the protobuf v2 document is the empty one");
    }

    [Fact]
    public async Task A_watch_from_now_sends_current_objects_then_changes_and_ends_at_its_timeout()
    {
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"before"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        using var response = await Http.GetAsync("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=2", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        var first = JsonNode.Parse((await reader.ReadLineAsync())!)!;
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"after"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        var second = JsonNode.Parse((await reader.ReadLineAsync())!)!;
        var end = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        $"{first["type"]} {first["object"]!["metadata"]!["name"]}".Should().Be("ADDED before");
        $"{second["type"]} {second["object"]!["metadata"]!["name"]}".Should().Be("ADDED after");
        end.Should().BeNull("the stream ends cleanly when timeoutSeconds is up");
    }

    [Fact]
    public async Task A_watch_from_resource_version_0_starts_with_the_current_objects()
    {
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"present"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);

        using var response = await Http.GetAsync("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&timeoutSeconds=99999999", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var first = JsonNode.Parse((await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)))!)!;

        response.StatusCode.Should().Be(HttpStatusCode.OK, "a huge timeout is capped, not an error");
        $"{first["type"]} {first["object"]!["metadata"]!["name"]}".Should().Be("ADDED present");
    }

    [Fact]
    public async Task A_watch_from_a_compacted_resource_version_gets_a_410_error_event()
    {
        var created = await BodyAsync(await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"old"}}"""));
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"newer"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);
        await _server!.Store.CompactAsync((await _server.Store.GetStatusAsync()).Revision);

        using var response = await Http.GetAsync($"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={created["metadata"]!["resourceVersion"]}", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var evt = JsonNode.Parse((await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)))!)!;

        evt["type"]!.ToString().Should().Be("ERROR");
        evt["object"]!["code"]!.GetValue<int>().Should().Be(410);
        evt["object"]!["reason"]!.ToString().Should().Be("Expired");
    }

    [Fact]
    public async Task A_watch_with_initial_events_marks_their_end_with_a_bookmark()
    {
        (await SendAsync(HttpMethod.Post, "/api/v1/namespaces/default/configmaps", """{"metadata":{"name":"one"}}""")).StatusCode.Should().Be(HttpStatusCode.Created);

        using var response = await Http.GetAsync("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=5", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var added = JsonNode.Parse((await reader.ReadLineAsync())!)!;
        var bookmark = JsonNode.Parse((await reader.ReadLineAsync())!)!;

        added["type"]!.ToString().Should().Be("ADDED");
        bookmark["type"]!.ToString().Should().Be("BOOKMARK");
        bookmark["object"]!["metadata"]!["annotations"]!["k8s.io/initial-events-end"]!.ToString().Should().Be("true");
    }

    private static string Deployment(string name, string extraSpec = "") =>
        """{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"NAME"},"spec":{EXTRA"selector":{"matchLabels":{"app":"NAME"}},"template":{"metadata":{"labels":{"app":"NAME"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}"""
            .Replace("NAME", name, StringComparison.Ordinal).Replace("EXTRA", extraSpec, StringComparison.Ordinal);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await Http.SendAsync(request);
    }

    private static async Task<JsonNode> BodyAsync(HttpResponseMessage response) => JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    private static async Task ExpectStatusAsync(HttpResponseMessage response, int code, string reason, string message)
    {
        var body = await BodyAsync(response);
        ((int)response.StatusCode).Should().Be(code, body.ToJsonString());
        body["kind"]!.ToString().Should().Be("Status");
        body["code"]!.GetValue<int>().Should().Be(code);
        body["reason"]!.ToString().Should().Be(reason);
        body["message"]!.ToString().Should().Contain(message);
    }

    private async Task ExpectNoConfigMapsAsync()
    {
        var list = await BodyAsync(await Http.GetAsync("/api/v1/namespaces/default/configmaps"));
        list["items"]!.AsArray().Should().BeEmpty();
    }
}
