using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Resources;

namespace Orchestration.Client;

/// <summary>
/// <see cref="IClusterClient"/> over the Kubernetes REST API, for components in other processes:
/// the official client package supplies TLS, credentials and the models; requests go to one of
/// several API servers and fail over to the next when one cannot be reached. Errors come back as
/// the same typed exceptions the local client throws.
/// </summary>
public sealed partial class RemoteClusterClient : IClusterClient, IServiceAccountTokenClient, IDisposable
{
    private readonly ResourceKindTable _kinds;
    private readonly ILogger _logger;
    private readonly List<(string Server, HttpClient Http)> _endpoints = [];
    private readonly TimeSpan _timeout;
    private readonly int _throttleRetries;
    private readonly TimeProvider _timeProvider;
    private int _current;

    /// <summary>Creates the client; nothing is sent until the first call.</summary>
    public RemoteClusterClient(RemoteClusterClientOptions options, ResourceKindTable kinds, ILogger<RemoteClusterClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Servers.Count == 0)
        {
            throw new ArgumentException("at least one API server URL is needed", nameof(options));
        }

        _kinds = kinds ?? throw new ArgumentNullException(nameof(kinds));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _timeout = options.RequestTimeout;
        _throttleRetries = Math.Max(0, options.MaxThrottleRetries);
        _timeProvider = options.TimeProvider;
        var handler = ClusterHttpHandler.Create(options.Credentials);
        foreach (var server in options.Servers)
        {
            var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = new Uri(server.TrimEnd('/') + "/"), Timeout = Timeout.InfiniteTimeSpan };
            if (options.Credentials?.AccessToken is { Length: > 0 } token)
            {
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            _endpoints.Add((server, http));
        }

        _handler = handler;
    }

    private readonly HttpMessageHandler _handler;

    /// <inheritdoc />
    public async Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var kind = _kinds.For<T>();
        return await SendForObjectAsync<T>(kind, name, () => new HttpRequestMessage(HttpMethod.Get, ItemPath(kind, @namespace, name)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<ObjectList<T>> ListAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var list = await ListAsync(_kinds.For<T>(), @namespace, options, cancellationToken).ConfigureAwait(false);
        return new ObjectList<T>(list.Items.Select(ObjectConversion.ToObject<T>).ToList(), list.ResourceVersion, list.Continue);
    }

    /// <inheritdoc />
    public Task<T> CreateAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var kind = _kinds.For<T>();
        var body = KubernetesJson.Serialize(obj);
        return SendForObjectAsync<T>(kind, obj.Metadata?.Name, () => new HttpRequestMessage(HttpMethod.Post, CollectionPath(kind, obj.Metadata?.NamespaceProperty)) { Content = Json(body) }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<T> UpdateAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => Replace(obj, "", cancellationToken);

    /// <inheritdoc />
    public Task<T> UpdateStatusAsync<T>(T obj, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta> => Replace(obj, "/status", cancellationToken);

    /// <inheritdoc />
    public Task<T> PatchAsync<T>(string? @namespace, string name, ObjectPatch patch, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(patch);
        var kind = _kinds.For<T>();
        var mediaType = patch.Kind switch
        {
            PatchKind.Json => "application/json-patch+json",
            PatchKind.StrategicMerge => "application/strategic-merge-patch+json",
            PatchKind.Apply => "application/apply-patch+yaml",
            _ => "application/merge-patch+json",
        };
        var query = Query(("fieldManager", patch.FieldManager), ("force", patch.Force ? "true" : null));
        return SendForObjectAsync<T>(kind, name, () => new HttpRequestMessage(HttpMethod.Patch, ItemPath(kind, @namespace, name) + query)
        {
            Content = new StringContent(patch.Body, Encoding.UTF8, new MediaTypeHeaderValue(mediaType)),
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<T> DeleteAsync<T>(string? @namespace, string name, DeleteOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var kind = _kinds.For<T>();
        var body = DeleteBody(options);
        return SendForObjectAsync<T>(kind, name, () => new HttpRequestMessage(HttpMethod.Delete, ItemPath(kind, @namespace, name)) { Content = Json(body) }, cancellationToken);
    }

    private static string DeleteBody(DeleteOptions? options)
    {
        var body = new JsonObject { ["kind"] = "DeleteOptions", ["apiVersion"] = "v1" };
        if (options?.PropagationPolicy is { } policy)
        {
            body["propagationPolicy"] = policy;
        }

        if (options?.GracePeriodSeconds is { } grace)
        {
            body["gracePeriodSeconds"] = grace;
        }

        if (options?.PreconditionUid is not null || options?.PreconditionResourceVersion is not null)
        {
            body["preconditions"] = new JsonObject { ["uid"] = options.PreconditionUid, ["resourceVersion"] = options.PreconditionResourceVersion };
        }

        return body.ToJsonString();
    }

    /// <inheritdoc />
    public async Task BindAsync(string? @namespace, string podName, string nodeName, CancellationToken cancellationToken = default)
    {
        var kind = _kinds.For<V1Pod>();
        var binding = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Binding",
            ["metadata"] = new JsonObject { ["name"] = podName },
            ["target"] = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["name"] = nodeName },
        };
        await SendForNodeAsync(kind, podName, () => new HttpRequestMessage(HttpMethod.Post, ItemPath(kind, @namespace, podName) + "/binding") { Content = Json(binding.ToJsonString()) }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<ServiceAccountToken> RequestTokenAsync(string @namespace, string serviceAccount, ServiceAccountTokenRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var kind = _kinds.For<V1ServiceAccount>();
        var spec = new JsonObject
        {
            ["audiences"] = new JsonArray([.. request.Audiences.Select(a => (JsonNode?)JsonValue.Create(a))]),
            ["expirationSeconds"] = request.ExpirationSeconds,
        };
        if (request.BoundPodName is { } pod)
        {
            spec["boundObjectRef"] = new JsonObject { ["kind"] = "Pod", ["apiVersion"] = "v1", ["name"] = pod, ["uid"] = request.BoundPodUid };
        }

        var body = new JsonObject { ["apiVersion"] = "authentication.k8s.io/v1", ["kind"] = "TokenRequest", ["spec"] = spec };
        var response = await SendForNodeAsync(kind, serviceAccount, () => new HttpRequestMessage(HttpMethod.Post, ItemPath(kind, @namespace, serviceAccount) + "/token") { Content = Json(body.ToJsonString()) }, cancellationToken).ConfigureAwait(false);
        var token = response["status"]?["token"]?.ToString() ?? throw new ClusterApiException(500, "InternalError", "the TokenRequest came back without a token");
        var expires = DateTimeOffset.Parse(response["status"]?["expirationTimestamp"]?.ToString() ?? "", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
        return new ServiceAccountToken(token, expires);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        await foreach (var evt in WatchAsync(_kinds.For<T>(), @namespace, options, cancellationToken).ConfigureAwait(false))
        {
            yield return new ObjectEvent<T>(evt.Type, ObjectConversion.ToObject<T>(evt.Object));
        }
    }

    /// <summary>One event of a watch stream; an ERROR event is thrown as the error it carries.</summary>
    private static (WatchEventType Type, JsonObject Object) ParseWatchLine(ResourceKind kind, string line)
    {
        var evt = JsonNode.Parse(line) as JsonObject ?? throw new ClusterApiException(500, "InternalError", "the watch stream carried something that is not an event");
        var obj = evt["object"] as JsonObject ?? [];
        var type = evt["type"]?.ToString();
        if (type == "ERROR")
        {
            throw ErrorFrom(kind, null, 500, obj);
        }

        evt.Remove("object");
        var eventType = type switch
        {
            "ADDED" => WatchEventType.Added,
            "MODIFIED" => WatchEventType.Modified,
            "DELETED" => WatchEventType.Deleted,
            _ => WatchEventType.Bookmark,
        };
        return (eventType, obj);
    }

    /// <summary>A line of a watch stream; a stream that breaks is the server becoming unavailable, which a watcher handles by watching again.</summary>
    private static async Task<string?> ReadLineAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            throw new ClusterApiException(503, "ServiceUnavailable", $"the watch stream broke: {ex.Message}", innerException: ex);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var (_, http) in _endpoints)
        {
            http.Dispose();
        }

        _handler.Dispose();
    }

    private Task<T> Replace<T>(T obj, string suffix, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(obj);
        var kind = _kinds.For<T>();
        var name = obj.Metadata?.Name ?? "";
        var body = KubernetesJson.Serialize(obj);
        return SendForObjectAsync<T>(kind, name, () => new HttpRequestMessage(HttpMethod.Put, ItemPath(kind, obj.Metadata?.NamespaceProperty, name) + suffix) { Content = Json(body) }, cancellationToken);
    }

    private async Task<T> SendForObjectAsync<T>(ResourceKind kind, string? name, Func<HttpRequestMessage> request, CancellationToken cancellationToken) =>
        ObjectConversion.ToObject<T>(await SendForNodeAsync(kind, name, request, cancellationToken).ConfigureAwait(false));

    private async Task<JsonObject> SendForNodeAsync(ResourceKind kind, string? name, Func<HttpRequestMessage> request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        using var response = await SendAsync(kind, name, request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
        return JsonNode.Parse(text) as JsonObject ?? throw new ClusterApiException(500, "InternalError", "the API server answered with something that is not an object");
    }

    /// <summary>Sends to the current server, moving on to the next when one cannot be reached or is unavailable.</summary>
    private async Task<HttpResponseMessage> SendAsync(ResourceKind kind, string? name, Func<HttpRequestMessage> request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        Exception? last = null;
        var throttled = 0;
        for (var attempt = 0; attempt < _endpoints.Count; attempt++)
        {
            var index = (Volatile.Read(ref _current) + attempt) % _endpoints.Count;
            var (server, http) = _endpoints[index];
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request(), completion, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                LogServerUnreachable(ex, server);
                last = ex;
                continue;
            }

            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && attempt < _endpoints.Count - 1)
            {
                response.Dispose();
                continue;
            }

            if (response.StatusCode == HttpStatusCode.TooManyRequests && throttled < _throttleRetries)
            {
                // The server is saturated and said when to come back: wait, then send again to the same one.
                var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
                response.Dispose();
                throttled++;
                LogThrottled(server, wait);
                await Task.Delay(TimeSpan.FromTicks(Math.Clamp(wait.Ticks, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(10).Ticks)), _timeProvider, cancellationToken).ConfigureAwait(false);
                attempt--;
                continue;
            }

            Volatile.Write(ref _current, index);
            if (response.IsSuccessStatusCode)
            {
                return response;
            }

            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                JsonObject? status = null;
                try
                {
                    status = JsonNode.Parse(text) as JsonObject;
                }
                catch (JsonException)
                {
                }

                throw ErrorFrom(kind, name, (int)response.StatusCode, status ?? new JsonObject { ["message"] = text });
            }
        }

        throw new ClusterApiException(503, "ServiceUnavailable", $"no API server could be reached ({string.Join(", ", _endpoints.Select(e => e.Server))})", innerException: last);
    }

    /// <summary>A Status object as the typed exception the local client would throw.</summary>
    private static ClusterApiException ErrorFrom(ResourceKind kind, string? name, int httpCode, JsonObject status)
    {
        var code = status["code"] is JsonValue c && c.TryGetValue<int>(out var statusCode) ? statusCode : httpCode;
        var reason = status["reason"]?.ToString() ?? "";
        var message = status["message"]?.ToString() ?? "";
        var objectName = status["details"]?["name"]?.ToString() ?? name ?? "";
        var causes = (status["details"]?["causes"] as JsonArray ?? []).OfType<JsonObject>().Select(ObjectConversion.ToObject<V1StatusCause>).ToList();
        return (code, reason) switch
        {
            (404, _) when objectName.Length > 0 => new NotFoundException(kind.Group, kind.Plural, objectName),
            (409, "AlreadyExists") => new AlreadyExistsException(kind.Group, kind.Plural, objectName),
            (409, _) => new ConflictException(kind.Group, kind.Plural, objectName, message.Contains("\": ", StringComparison.Ordinal) ? message[(message.IndexOf("\": ", StringComparison.Ordinal) + 3)..] : message),
            (422, _) => new InvalidException(kind.Group, kind.Kind, objectName, causes),
            (400, _) => new BadRequestException(message),
            (410, _) => new GoneException(message),
            (403, _) => new ForbiddenException(message),
            _ => new ClusterApiException(code, reason.Length > 0 ? reason : "Unknown", message, causes),
        };
    }

    private static string CollectionPath(ResourceKind kind, string? @namespace)
    {
        var root = kind.Group.Length == 0 ? $"api/{kind.Version}" : $"apis/{kind.Group}/{kind.Version}";
        return kind.Namespaced && !string.IsNullOrEmpty(@namespace)
            ? $"{root}/namespaces/{Uri.EscapeDataString(@namespace)}/{kind.Plural}"
            : $"{root}/{kind.Plural}";
    }

    private static string ItemPath(ResourceKind kind, string? @namespace, string name) =>
        $"{CollectionPath(kind, kind.Namespaced ? (string.IsNullOrEmpty(@namespace) ? "default" : @namespace) : null)}/{Uri.EscapeDataString(name)}";

    private static string Query(params (string Name, string? Value)[] parameters)
    {
        var present = parameters.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}").ToList();
        return present.Count == 0 ? "" : "?" + string.Join("&", present);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [LoggerMessage(EventId = 1201, Level = LogLevel.Debug, Message = "The API server {Server} answered 429; sending again in {Wait}")]
    private partial void LogThrottled(string server, TimeSpan wait);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Warning, Message = "The API server {Server} cannot be reached; trying the next")]
    private partial void LogServerUnreachable(Exception ex, string server);
}
