using System.Text.Json.Nodes;
using k8s;
using Microsoft.AspNetCore.Http;
using Orchestration.ApiServer.Routing;
using Orchestration.ApiServer.Serialization;
using Orchestration.Client;
using Orchestration.Resources;

namespace Orchestration.ApiServer.Handlers;

public sealed partial class ResourceHandler
{
    private static readonly byte[] NewLine = "\n"u8.ToArray();
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, System.Collections.Concurrent.ConcurrentDictionary<WatchEventType, byte[]>> _eventLines = new();

    private async Task GetAsync(HttpContext context, ResourceKind kind, string version, string? ns, string name)
    {
        var obj = AtVersion(kind, version, await registry.GetAsync(kind, ns, name, context.RequestAborted).ConfigureAwait(false));
        if (tables.Wants(context.Request, out var tableVersion))
        {
            await ApiJson.WriteAsync(context, 200, tables.ToTable(kind, [obj], context.Request, tableVersion, obj["metadata"]?["resourceVersion"]?.ToString(), null)).ConfigureAwait(false);
            return;
        }

        await ApiJson.WriteAsync(context, 200, obj).ConfigureAwait(false);
    }

    private async Task ListAsync(HttpContext context, ResourceKind kind, string version, ResourcePath path, RequestOptions request)
    {
        var list = await registry.ListAsync(kind, path.Namespace, ListOptionsOf(request), context.RequestAborted).ConfigureAwait(false);
        foreach (var item in list.Items)
        {
            AtVersion(kind, version, item);
        }

        if (tables.Wants(context.Request, out var tableVersion))
        {
            await ApiJson.WriteAsync(context, 200, tables.ToTable(kind, list.Items, context.Request, tableVersion, list.ResourceVersion, list.Continue)).ConfigureAwait(false);
            return;
        }

        var metadata = new JsonObject { ["resourceVersion"] = list.ResourceVersion };
        if (list.Continue is not null)
        {
            metadata["continue"] = list.Continue;
        }

        var body = new JsonObject
        {
            ["kind"] = kind.ListKind,
            ["apiVersion"] = kind.Group.Length == 0 ? version : $"{kind.Group}/{version}",
            ["metadata"] = metadata,
            ["items"] = new JsonArray(list.Items.Select(i => (JsonNode)i).ToArray()),
        };
        await ApiJson.WriteAsync(context, 200, body).ConfigureAwait(false);
    }

    private async Task WatchAsync(HttpContext context, ResourceKind kind, string version, ResourcePath path, RequestOptions request)
    {
        // Selectors are checked before the stream starts, so a bad one is a plain 400.
        LabelSelector.Parse(request.String("labelSelector"));
        FieldSelector.Parse(request.String("fieldSelector")).RequireSupported(registry.Strategies.For(kind));
        // A watch lasts at most a day: a larger timeout asks for no more than that.
        var timeout = request.Int("timeoutSeconds") is > 0 and var seconds ? TimeSpan.FromSeconds(Math.Min(seconds, 86_400)) : _options.DefaultWatchTimeout;
        var watchOptions = new WatchOptions
        {
            LabelSelector = request.String("labelSelector"),
            FieldSelector = request.String("fieldSelector"),
            ResourceVersion = request.String("resourceVersion"),
            AllowBookmarks = request.Flag("allowWatchBookmarks"),
            SendInitialEvents = request.Flag("sendInitialEvents"),
        };
        var wantsTable = tables.Wants(context.Request, out var tableVersion);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        stop.CancelAfter(timeout);
        context.Response.StatusCode = 200;
        context.Response.ContentType = ApiJson.JsonMediaType;
        context.Response.Headers.CacheControl = "no-cache, private";
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        var first = true;
        try
        {
            await foreach (var evt in registry.WatchSharedAsync(kind, path.Namespace, watchOptions, stop.Token).ConfigureAwait(false))
            {
                byte[] line;
                if (wantsTable && evt.Type != WatchEventType.Bookmark)
                {
                    var table = tables.ToTable(kind, [evt.Object], context.Request, tableVersion, evt.Object["metadata"]?["resourceVersion"]?.ToString(), null, withColumns: first);
                    first = false;
                    line = EventLine(evt.Type, table);
                }
                else if (version != kind.Version)
                {
                    // The shared object must not change: serve another version from a copy.
                    line = EventLine(evt.Type, AtVersion(kind, version, (JsonObject)evt.Object.DeepClone()));
                }
                else if (evt.Source is { } source)
                {
                    // One change fans out to every watcher: serialize it once for all of them.
                    line = _eventLines.GetOrCreateValue(source).GetOrAdd(evt.Type, type => EventLine(type, evt.Object));
                }
                else
                {
                    line = EventLine(evt.Type, evt.Object);
                }

                await context.Response.Body.WriteAsync(line, stop.Token).ConfigureAwait(false);
                await context.Response.Body.FlushAsync(stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
        {
            // The watch's time is up: end the stream cleanly, the client watches again.
        }
    }

    /// <summary>A watch event as the line the stream carries: <c>{"type":...,"object":...}</c> and a newline.</summary>
    private static byte[] EventLine(WatchEventType type, JsonNode obj)
    {
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", TypeName(type));
            writer.WritePropertyName("object");
            obj.WriteTo(writer);
            writer.WriteEndObject();
        }

        buffer.Write(NewLine);
        return buffer.ToArray();
    }

    private static string TypeName(WatchEventType type) => type switch
    {
        WatchEventType.Added => "ADDED",
        WatchEventType.Modified => "MODIFIED",
        WatchEventType.Deleted => "DELETED",
        WatchEventType.Bookmark => "BOOKMARK",
        _ => "ERROR",
    };

    private static ListOptions ListOptionsOf(RequestOptions request) => new()
    {
        LabelSelector = request.String("labelSelector"),
        FieldSelector = request.String("fieldSelector"),
        Limit = request.Int("limit"),
        Continue = request.String("continue"),
        ResourceVersion = request.String("resourceVersion"),
        ResourceVersionMatch = request.String("resourceVersionMatch"),
    };

}
