using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Orchestration.Resources;

namespace Orchestration.Client;

/// <summary>The kind-agnostic verbs, on the same servers and failover as the typed ones.</summary>
public sealed partial class RemoteClusterClient : IDynamicClusterClient
{
    /// <inheritdoc />
    public async Task<IReadOnlyList<ResourceKind>> KindsAsync(CancellationToken cancellationToken)
    {
        // The built-in kinds are this client's table; custom ones are whatever CRDs are established.
        var crds = await ListAsync<V1CustomResourceDefinition>(null, cancellationToken: cancellationToken).ConfigureAwait(false);
        var custom = crds.Items
            .Where(c => c.Status?.Conditions?.Any(x => x.Type == "Established" && x.Status == "True") == true)
            .Select(c => CustomResourceDefinitions.ToKind(ObjectConversion.ToNode(c)));
        return [.. _kinds.Kinds, .. custom];
    }

    /// <inheritdoc />
    public Task<JsonObject> GetAsync(ResourceKind kind, string? @namespace, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        return SendForNodeAsync(kind, name, () => new HttpRequestMessage(HttpMethod.Get, ItemPath(kind, @namespace, name)), cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ObjectList<JsonObject>> ListAsync(ResourceKind kind, string? @namespace, ListOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        options ??= new ListOptions();
        var query = Query(
            ("labelSelector", options.LabelSelector),
            ("fieldSelector", options.FieldSelector),
            ("limit", options.Limit > 0 ? options.Limit.ToString(CultureInfo.InvariantCulture) : null),
            ("continue", options.Continue),
            ("resourceVersion", options.ResourceVersion),
            ("resourceVersionMatch", options.ResourceVersionMatch));
        var node = await SendForNodeAsync(kind, null, () => new HttpRequestMessage(HttpMethod.Get, CollectionPath(kind, @namespace) + query), cancellationToken).ConfigureAwait(false);

        // Emptying the array detaches the items from the response, so each is the caller's own without a copy.
        var array = node["items"] as JsonArray ?? [];
        var items = array.OfType<JsonObject>().ToList();
        array.Clear();
        return new ObjectList<JsonObject>(items, node["metadata"]?["resourceVersion"]?.ToString() ?? "", node["metadata"]?["continue"]?.ToString() is { Length: > 0 } next ? next : null);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectEvent<JsonObject>> WatchAsync(ResourceKind kind, string? @namespace, WatchOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        options ??= new WatchOptions();
        var query = Query(
            ("watch", "1"),
            ("labelSelector", options.LabelSelector),
            ("fieldSelector", options.FieldSelector),
            ("resourceVersion", options.ResourceVersion),
            ("allowWatchBookmarks", options.AllowBookmarks ? "true" : null),
            ("sendInitialEvents", options.SendInitialEvents ? "true" : null));
        using var response = await SendAsync(kind, null, () => new HttpRequestMessage(HttpMethod.Get, CollectionPath(kind, @namespace) + query), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await ReadLineAsync(reader, cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            var (type, obj) = ParseWatchLine(kind, line);
            yield return new ObjectEvent<JsonObject>(type, obj);
        }
    }

    /// <inheritdoc />
    public Task<JsonObject> UpdateAsync(ResourceKind kind, JsonObject obj, string? subresource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(obj);
        var name = obj["metadata"]?["name"]?.ToString() ?? "";
        var body = obj.ToJsonString();
        var path = ItemPath(kind, obj["metadata"]?["namespace"]?.ToString(), name) + (subresource is null ? "" : "/" + subresource);
        return SendForNodeAsync(kind, name, () => new HttpRequestMessage(HttpMethod.Put, path) { Content = Json(body) }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<JsonObject> DeleteAsync(ResourceKind kind, string? @namespace, string name, DeleteOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(kind);
        var body = DeleteBody(options);
        return SendForNodeAsync(kind, name, () => new HttpRequestMessage(HttpMethod.Delete, ItemPath(kind, @namespace, name)) { Content = Json(body) }, cancellationToken);
    }
}
