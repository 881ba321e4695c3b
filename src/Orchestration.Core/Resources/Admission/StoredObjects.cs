using System.Text.Json.Nodes;
using Orchestration.State;

namespace Orchestration.Resources.Admission;

/// <summary>
/// How admission plugins read other objects: straight from the store (a plugin of the registry
/// cannot use the registry itself), as stored JSON. Values stored encrypted are not readable here,
/// which is why only Secrets should be encrypted at rest.
/// </summary>
public static class StoredObjects
{
    /// <summary>Every object under <paramref name="prefix"/>, read page by page from one snapshot.</summary>
    public static async Task<List<JsonObject>> ListAsync(IStateStore store, string prefix, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var items = new List<JsonObject>();
        string? after = null;
        long revision = 0;
        while (true)
        {
            var page = await store.RangeAsync(new RangeRequest { Prefix = prefix, Limit = 500, StartAfter = after, Revision = revision }, cancellationToken).ConfigureAwait(false);
            items.AddRange(page.Items.Select(kv => JsonNode.Parse(kv.Value.Span)).OfType<JsonObject>());
            if (!page.HasMore || page.Items.Count == 0)
            {
                return items;
            }

            (after, revision) = (page.Items[^1].Key, page.Revision);
        }
    }

    /// <summary>The labels of namespace <paramref name="namespace"/> (empty when it has none), or null when it does not exist.</summary>
    public static async Task<JsonObject?> NamespaceLabelsAsync(IStateStore store, string @namespace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var kv = await store.GetAsync($"/registry/core/namespaces/{@namespace}", 0, cancellationToken).ConfigureAwait(false);
        return kv is null ? null : JsonNode.Parse(kv.Value.Span)?["metadata"]?["labels"] as JsonObject ?? [];
    }
}
