using System.Text.Json.Nodes;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using Orchestration.ApiServer.Tables;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Tests;

/// <summary>A kind's <c>kubectl get</c> columns are a DI registration: one for a kind of the user's own is used, and one for a built-in kind replaces its built-in columns.</summary>
[Trait("Category", "Unit")]
public sealed class KindTableColumnsTests
{
    private static readonly TableColumn Name = new("Name", "string", "name", "The name.", 0, (o, _) => o["metadata"]?["name"]?.ToString());

    [Fact]
    public void Registered_columns_are_a_kinds_columns_and_replace_the_built_in_ones()
    {
        var size = new TableColumn("Size", "integer", "", "How big.", 0, (o, _) => o["spec"]?["size"]?.DeepClone());
        var configMaps = new TableColumn("Keys", "string", "", "The keys.", 0, (o, _) => string.Join(",", (o["data"] as JsonObject ?? []).Select(p => p.Key)));
        var converter = new TableConverter(new FakeTimeProvider(), [new("example.com", "Widget", [Name, size]), new("", "ConfigMap", [Name, configMaps])]);
        var widget = new ResourceKind { Group = "example.com", Version = "v1", Kind = "Widget", Plural = "widgets", Namespaced = true, ClrType = typeof(object) };

        converter.ColumnsFor(widget).Select(c => c.Name).Should().Equal("Name", "Size");
        converter.ColumnsFor(ResourceKindTable.CreateDefault().For<V1ConfigMap>()).Select(c => c.Name).Should().Equal("Name", "Keys");
        converter.ColumnsFor(ResourceKindTable.CreateDefault().For<V1Secret>()).Select(c => c.Name).Should().Equal(["Name", "Type", "Data", "Age"], "kinds without a registration keep the built-in columns");
    }
}
