using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Orchestration.TestKit;
using Orchestration.Testing.Daemons;

namespace Orchestration.E2E.Tests;

/// <summary><c>orch up --audit-policy-file --audit-log-path</c> with the real kubectl: one audit line for each request kubectl says it made.</summary>
[Trait("Category", "E2E")]
public sealed partial class AuditLogE2ETests
{
    [Fact]
    public async Task The_audit_log_has_one_line_for_each_request_kubectl_makes_at_the_policys_level()
    {
        var dataDir = Directory.CreateTempSubdirectory("orch-audit-").FullName;
        var policy = Path.Combine(dataDir, "policy.yaml");
        var log = Path.Combine(dataDir, "audit", "audit.log");
        await File.WriteAllTextAsync(policy, """
            apiVersion: audit.k8s.io/v1
            kind: Policy
            omitStages: [RequestReceived]
            rules:
            - level: RequestResponse
              resources: [{group: "", resources: [configmaps]}]
            - level: Metadata
            """);
        await using var orch = await OrchProcess.StartAsync(dataDir, null, "--audit-policy-file", policy, "--audit-log-path", log);
        var kubectl = new Kubectl(Kubectl.Versions[^1], orch.Kubeconfig);

        // -v=6 makes kubectl print each request with its code: the requests it made, discovery included.
        var created = await kubectl.RunAsync(["create", "configmap", "audited", "--from-literal=k=v", "-v=6"]);
        created.ExitCode.Should().Be(0, created.ToString());
        var listed = await kubectl.RunAsync(["get", "configmaps", "-v=6"]);
        listed.ExitCode.Should().Be(0, listed.ToString());
        var requests = RequestLine().Matches(created.Stderr + listed.Stderr).Count;
        requests.Should().BeGreaterThan(1);

        List<JsonObject> events = [];
        // A last request by another kubectl: the log is written in order, so once its line is there, every earlier one is.
        var marker = new Kubectl(Kubectl.Versions[1], orch.Kubeconfig);
        (await marker.RunAsync(["get", "--raw", "/api"])).ExitCode.Should().Be(0);
        (await Eventually.HoldsAsync(() => (events = Events(log)).Any(e => IsFrom(e, marker)), 100, TimeSpan.FromMilliseconds(50)))
            .Should().BeTrue("the marker request's line is written");
        events.Count(e => IsFrom(e, kubectl)).Should().Be(requests, $"kubectl made {requests} requests: one line each, no more");
        var create = events.Single(e => e["verb"]!.ToString() == "create");
        (create["level"]!.ToString(), create["objectRef"]!["name"]?.ToString() ?? create["responseObject"]!["metadata"]!["name"]!.ToString()).Should().Be(("RequestResponse", "audited"));
        create["user"]!["username"]!.ToString().Should().Be("orchestration-admin");
        events.Where(e => e["objectRef"]?["resource"]?.ToString() != "configmaps").Should().OnlyContain(e => e["level"]!.ToString() == "Metadata" && !e.ContainsKey("requestObject"));
    }

    // kubectl's user agent starts with its binary's file name.
    private static bool IsFrom(JsonObject evt, Kubectl kubectl) => evt["userAgent"]!.ToString().StartsWith(Path.GetFileName(kubectl.Binary) + "/", StringComparison.Ordinal);

    private static List<JsonObject> Events(string path) =>
        File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())] : [];

    // kubectl 1.30+: "Response" verb="GET" url="https://..." status="200 OK"; older: GET https://... 200 OK in 3 milliseconds.
    [GeneratedRegex(@"""Response"" verb=""\w+"" url=""https://[^""]+"" status=""\d{3}|\] (GET|POST|PUT|PATCH|DELETE) https://\S+ \d{3} ")]
    private static partial Regex RequestLine();
}
