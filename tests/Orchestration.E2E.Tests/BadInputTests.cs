using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary>
/// Bad input through the real kubectl: each gets kubectl's error with the server's Status, the
/// exit code 1, nothing is stored, and the server keeps serving.
/// </summary>
[Collection(OrchClusterCollection.Name)]
[Trait("Category", "E2E")]
public sealed class BadInputTests(OrchCluster cluster) : IDisposable
{
    private readonly List<string> _written = [];

    public static TheoryData<string> Versions() => KubectlTests.Versions();

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Malformed_json_is_a_bad_request(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        var file = WriteTemp("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"broken" """);

        var result = await kubectl.RunAsync(["create", "--raw", $"/api/v1/namespaces/{ns}/configmaps", "-f", file]);

        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("BadRequest").And.Contain("not valid JSON");
        await NothingStoredAsync(kubectl, ns);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task Malformed_yaml_is_refused_by_kubectl_and_by_the_server(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        const string broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n";

        // kubectl parses YAML itself, so the server sees YAML only when it is sent raw.
        var client = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], broken);
        var server = await kubectl.RunAsync(["create", "--raw", $"/api/v1/namespaces/{ns}/configmaps", "-f", WriteTemp(broken, ".yaml")]);

        client.ExitCode.Should().Be(1, client.ToString());
        client.Stderr.Should().Contain("yaml");
        server.ExitCode.Should().Be(1, server.ToString());
        server.Stderr.Should().Contain("BadRequest");
        await NothingStoredAsync(kubectl, ns);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_unknown_kind_or_resource_is_not_found(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);

        var kind = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], "apiVersion: v1\nkind: Frobnicator\nmetadata:\n  name: x\n");
        var resource = await kubectl.RunAsync("get frobnicators");
        var raw = await kubectl.RunAsync("get --raw /api/v1/frobnicators");

        kind.ExitCode.Should().Be(1, kind.ToString());
        kind.Stderr.Should().Contain("no matches for kind \"Frobnicator\" in version \"v1\"");
        resource.ExitCode.Should().Be(1, resource.ToString());
        resource.Stderr.Should().Contain("the server doesn't have a resource type \"frobnicators\"");
        raw.ExitCode.Should().Be(1, raw.ToString());
        raw.Stderr.Should().Contain("NotFound");
        await NothingStoredAsync(kubectl, ns);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_missing_namespace_is_not_found(string binary)
    {
        var kubectl = cluster.Kubectl(binary);

        var result = await kubectl.RunAsync(["apply", "-n", "no-such-namespace", "-f", "-"], Manifests.ConfigMap("orphan"));

        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("namespaces \"no-such-namespace\" not found");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_invalid_name_or_a_missing_required_field_is_invalid_with_the_field(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);

        var name = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap("Bad_Name"));
        var field = await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], "apiVersion: v1\nkind: Pod\nmetadata:\n  name: empty\nspec: {}\n");

        name.ExitCode.Should().Be(1, name.ToString());
        name.Stderr.Should().Contain("is invalid").And.Contain("metadata.name: Invalid value: \"Bad_Name\"");
        field.ExitCode.Should().Be(1, field.ToString());
        field.Stderr.Should().Contain("is invalid").And.Contain("spec.containers: Required value");
        await NothingStoredAsync(kubectl, ns);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_stale_resource_version_conflicts_and_an_existing_name_already_exists(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        (await kubectl.RunAsync(["apply", "-n", ns, "-f", "-"], Manifests.ConfigMap("keep"))).ExitCode.Should().Be(0);
        var stale = (await kubectl.RunAsync($"get configmap keep -n {ns} -o json")).Stdout;
        (await kubectl.RunAsync($"label configmap keep changed=yes -n {ns}")).ExitCode.Should().Be(0);

        var conflict = await kubectl.RunAsync(["replace", "-f", "-"], stale);
        var exists = await kubectl.RunAsync(["create", "-n", ns, "-f", "-"], Manifests.ConfigMap("keep"));
        var current = await kubectl.RunAsync(["get", "configmap", "keep", "-n", ns, "-o", "jsonpath={.metadata.labels.changed}"]);

        conflict.ExitCode.Should().Be(1, conflict.ToString());
        conflict.Stderr.Should().Contain("Conflict").And.Contain("the object has been modified");
        exists.ExitCode.Should().Be(1, exists.ToString());
        exists.Stderr.Should().Contain("AlreadyExists").And.Contain("configmaps \"keep\" already exists");
        current.Stdout.Should().Be("yes", "the refused writes lost nothing");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task A_body_over_3_MiB_is_too_large(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);
        var big = $"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: \"{new string('x', 3_200_000)}\"\n";

        var result = await kubectl.RunAsync(["create", "-n", ns, "-f", WriteTemp(big)]);

        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("RequestEntityTooLarge");
        await NothingStoredAsync(kubectl, ns);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task An_unsupported_verb_is_method_not_allowed(string binary)
    {
        var kubectl = cluster.Kubectl(binary);
        var ns = await cluster.NamespaceAsync(kubectl);

        var result = await kubectl.RunAsync(["replace", "--raw", $"/api/v1/namespaces/{ns}/configmaps", "-f", WriteTemp(Manifests.ConfigMap("x"))]);

        result.ExitCode.Should().Be(1, result.ToString());
        result.Stderr.Should().Contain("MethodNotAllowed");
        await NothingStoredAsync(kubectl, ns);
    }

    private static async Task NothingStoredAsync(Kubectl kubectl, string ns)
    {
        var left = await kubectl.RunAsync($"get configmaps,pods -n {ns} -o name --field-selector=metadata.name!=kube-root-ca.crt");
        left.ExitCode.Should().Be(0, "the server keeps serving after bad input: " + left);
        left.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().BeEmpty("nothing of a refused request is stored");
    }

    public void Dispose()
    {
        foreach (var path in _written)
        {
            File.Delete(path);
        }
    }

    private string WriteTemp(string content, string extension = ".json")
    {
        var path = Path.Combine(Path.GetTempPath(), $"orch-e2e-{Guid.NewGuid():N}{extension}");
        File.WriteAllText(path, content);
        _written.Add(path);
        return path;
    }
}
