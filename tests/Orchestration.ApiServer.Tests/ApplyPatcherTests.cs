using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using Orchestration.ApiServer.Patching;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Tests;

/// <summary>Server-side apply: field ownership per manager, conflicts, force, and removal of fields a manager stops applying.</summary>
[Trait("Category", "Unit")]
public sealed class ApplyPatcherTests
{
    private readonly ApplyPatcher _patcher = new(new FakeTimeProvider());
    private readonly ResourceKind _kind = ResourceKindTable.CreateDefault().Find("apps", "deployments")!;

    private JsonObject Apply(JsonObject current, string yaml, string manager, bool force = false)
    {
        var patch = new ObjectPatch(PatchKind.Apply, yaml, manager, force);
        return _patcher.Apply(_kind, (JsonObject)current.DeepClone(), _patcher.Parse(patch), patch);
    }

    private const string Web = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {app: web}
        spec:
          replicas: 2
          template:
            spec:
              containers:
              - name: web
                image: nginx
        """;

    [Fact]
    public void The_first_apply_records_the_fields_the_manager_set()
    {
        var result = Apply(new JsonObject { ["metadata"] = new JsonObject { ["name"] = "web" } }, Web, "ci");

        var entry = result["metadata"]!["managedFields"]!.AsArray().Single()!;
        entry["manager"]!.ToString().Should().Be("ci");
        entry["operation"]!.ToString().Should().Be("Apply");
        var fields = entry["fieldsV1"]!.ToJsonString();
        fields.Should().Contain("\"f:replicas\":{}").And.Contain("\"k:{\\u0022name\\u0022:\\u0022web\\u0022}\"").And.Contain("\"f:image\":{}");
        result["spec"]!["replicas"]!.GetValue<int>().Should().Be(2);
    }

    [Fact]
    public void Another_manager_setting_an_owned_field_differently_conflicts_unless_it_forces()
    {
        var owned = Apply([], Web, "ci");
        var scale = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n";

        var conflict = () => Apply(owned, scale, "autoscaler");
        var forced = Apply(owned, scale, "autoscaler", force: true);
        var agreeing = Apply(owned, scale.Replace("5", "2", StringComparison.Ordinal), "autoscaler");

        conflict.Should().Throw<ClusterApiException>().Which.Code.Should().Be(409);
        forced["spec"]!["replicas"]!.GetValue<int>().Should().Be(5);
        forced["metadata"]!["managedFields"]!.AsArray().Single(m => m!["manager"]!.ToString() == "ci")!["fieldsV1"]!.ToJsonString().Should().NotContain("f:replicas", "forcing takes the field from its old owner");
        agreeing["metadata"]!["managedFields"]!.AsArray().Should().HaveCount(2, "setting the same value shares ownership without a conflict");
    }

    [Fact]
    public void A_field_the_manager_stops_applying_is_removed_unless_another_owns_it()
    {
        var owned = Apply([], Web, "ci");
        var shared = Apply(owned, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web}\n", "team");
        var withoutLabel = Web.Replace("  labels: {app: web}\n", "", StringComparison.Ordinal);

        var removed = Apply(owned, withoutLabel, "ci");
        var kept = Apply(shared, withoutLabel, "ci");

        (removed["metadata"]!["labels"] as JsonObject)?.ContainsKey("app").Should().NotBe(true, "no one else owned the label");
        removed["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.ToString().Should().Be("nginx");
        kept["metadata"]!["labels"]!["app"]!.ToString().Should().Be("web", "another manager applied the same label, so it stays");
    }
}
