using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Tables;

/// <summary>
/// Server-side printing (<c>as=Table</c>): the columns Kubernetes prints for each kind, so that
/// <c>kubectl get</c> and <c>-o wide</c> show what users expect; a custom kind prints its CRD's
/// additionalPrinterColumns.
/// </summary>
public sealed class TableConverter(TimeProvider timeProvider, IEnumerable<KindTableColumns> registered)
{
    // The built-in kinds' columns, then those registered through DI, a later registration of a kind winning.
    private readonly Dictionary<(string Group, string Kind), IReadOnlyList<TableColumn>> _columns =
        KindColumns.BuiltIn().Concat(registered).GroupBy(c => (c.Group, c.Kind)).ToDictionary(g => g.Key, g => g.Last().Columns);

    /// <summary>The columns <c>kubectl get</c> shows for a kind.</summary>
    public IReadOnlyList<TableColumn> ColumnsFor(ResourceKind kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        return _columns.TryGetValue((kind.Group, kind.Kind), out var columns) ? columns : KindColumns.Fallback(kind);
    }

    /// <summary>Whether the request asks for a Table, and which meta.k8s.io version of it.</summary>
    public bool Wants(HttpRequest request, out string version)
    {
        ArgumentNullException.ThrowIfNull(request);
        version = "v1";
        var accept = request.Headers.Accept.ToString();
        if (!accept.Contains("as=Table", StringComparison.Ordinal))
        {
            return false;
        }

        // The first acceptable entry wins: kubectl lists v1 before v1beta1.
        foreach (var entry in accept.Split(','))
        {
            if (entry.Contains("as=Table", StringComparison.Ordinal))
            {
                version = entry.Contains("v=v1beta1", StringComparison.Ordinal) ? "v1beta1" : "v1";
                return true;
            }
        }

        return false;
    }

    /// <summary>Objects as a Table.</summary>
    public JsonObject ToTable(ResourceKind kind, IReadOnlyList<JsonObject> items, HttpRequest request, string version, string? resourceVersion, string? continueToken, bool withColumns = true)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(request);
        var columns = ColumnsFor(kind);
        var includeObject = request.Query["includeObject"].ToString() is { Length: > 0 } include ? include : "PartialObjectMetadata";
        var now = timeProvider.GetUtcNow();
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var cells = new JsonArray(columns.Select(c => c.Cell(item, now)).ToArray());
            var row = new JsonObject { ["cells"] = cells };
            row["object"] = includeObject switch
            {
                "None" => null,
                "Object" => item.DeepClone(),
                _ => new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = $"meta.k8s.io/{version}",
                    ["metadata"] = item["metadata"]?.DeepClone(),
                },
            };
            rows.Add(row);
        }

        var metadata = new JsonObject();
        if (resourceVersion is not null)
        {
            metadata["resourceVersion"] = resourceVersion;
        }

        if (continueToken is not null)
        {
            metadata["continue"] = continueToken;
        }

        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = $"meta.k8s.io/{version}",
            ["metadata"] = metadata,
            ["columnDefinitions"] = withColumns
                ? new JsonArray(columns.Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c.Name,
                    ["type"] = c.Type,
                    ["format"] = c.Format,
                    ["description"] = c.Description,
                    ["priority"] = c.Priority,
                }).ToArray())
                : new JsonArray(),
            ["rows"] = rows,
        };
    }
}

/// <summary>One column of a table: its header, JSON type, and how a cell is read from an object.</summary>
/// <param name="Name">The header kubectl prints.</param>
/// <param name="Type">string, integer, number, boolean or date.</param>
/// <param name="Format">name for the object's name column; empty otherwise.</param>
/// <param name="Description">What the column shows.</param>
/// <param name="Priority">0 for default columns; 1 for those only <c>-o wide</c> shows.</param>
/// <param name="Cell">The cell of one object at a point in time.</param>
public sealed record TableColumn(string Name, string Type, string Format, string Description, int Priority, Func<JsonObject, DateTimeOffset, JsonNode?> Cell);

/// <summary>
/// The columns of one kind in <c>kubectl get</c> (server-side printing): register one through DI
/// (<c>services.AddSingleton(new KindTableColumns(...))</c>) for a kind of your own; it replaces
/// the built-in columns of the same kind.
/// </summary>
/// <param name="Group">The kind's API group.</param>
/// <param name="Kind">The kind.</param>
/// <param name="Columns">Its columns, in order; priority 0 shows in <c>kubectl get</c>, higher only with <c>-o wide</c>.</param>
public sealed record KindTableColumns(string Group, string Kind, IReadOnlyList<TableColumn> Columns);
