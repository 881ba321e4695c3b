using System.Text.Json.Nodes;
using Orchestration.Resources.Patching;
using k8s.Models;

namespace Orchestration.Core.Tests.Resources;

/// <summary>Strategic merge patch over the built-in types' merge keys, and the directives kubectl sends.</summary>
[Trait("Category", "Unit")]
public sealed class StrategicMergeTests
{
    private static JsonObject Deployment() => JsonNode.Parse("""
        {"metadata":{"name":"web","finalizers":["a"]},
         "spec":{"replicas":1,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}},
          "template":{"spec":{"containers":[
            {"name":"web","image":"nginx","env":[{"name":"A","value":"1"}],"ports":[{"containerPort":80}],"args":["x"]},
            {"name":"sidecar","image":"busybox"}]}}}}
        """)!.AsObject();

    private static JsonObject Apply(string patch) => StrategicMerge.Apply(typeof(V1Deployment), Deployment(), JsonNode.Parse(patch)!.AsObject());

    [Fact]
    public void Containers_merge_by_name_and_env_by_name()
    {
        var result = Apply("""{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2","env":[{"name":"B","value":"2"}]}]}}}}""");

        var containers = result["spec"]!["template"]!["spec"]!["containers"]!.AsArray();
        containers.Select(c => c!["name"]!.ToString()).Should().Equal("web", "sidecar");
        containers[0]!["image"]!.ToString().Should().Be("nginx:2");
        containers[0]!["env"]!.AsArray().Select(e => e!["name"]!.ToString()).Should().Equal("A", "B");
        containers[0]!["ports"]!.AsArray().Should().HaveCount(1, "fields the patch does not name stay");
    }

    [Fact]
    public void Lists_without_a_merge_key_are_replaced_and_null_deletes()
    {
        var result = Apply("""{"spec":{"replicas":null,"template":{"spec":{"containers":[{"name":"web","args":["y","z"]}]}}}}""");

        result["spec"]!.AsObject().ContainsKey("replicas").Should().BeFalse();
        result["spec"]!["template"]!["spec"]!["containers"]![0]!["args"]!.AsArray().Select(a => a!.ToString()).Should().Equal("y", "z");
    }

    [Fact]
    public void Delete_and_replace_directives_and_set_element_order_work()
    {
        var deleted = Apply("""{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}""");
        var replaced = Apply("""{"spec":{"strategy":{"$patch":"replace","type":"Recreate"}}}""");
        var ordered = Apply("""{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"web"}],"containers":[{"name":"web","image":"nginx:3"}]}}}}""");

        deleted["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Select(c => c!["name"]!.ToString()).Should().Equal("web");
        replaced["spec"]!["strategy"]!.ToJsonString().Should().Be("""{"type":"Recreate"}""");
        ordered["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Select(c => c!["name"]!.ToString()).Should().Equal("sidecar", "web");
        ordered.ToJsonString().Should().NotContain("$setElementOrder", "directives are never stored");
    }

    [Fact]
    public void Retain_keys_clears_what_it_does_not_list_and_sets_merge_by_value()
    {
        var retained = Apply("""{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}""");
        var finalizers = Apply("""{"metadata":{"finalizers":["b","a"]}}""");
        var removed = Apply("""{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}""");

        retained["spec"]!["strategy"]!.ToJsonString().Should().Be("""{"type":"Recreate"}""");
        finalizers["metadata"]!["finalizers"]!.AsArray().Select(f => f!.ToString()).Should().Equal("a", "b");
        removed["metadata"]!["finalizers"]!.AsArray().Should().BeEmpty();
    }
}
