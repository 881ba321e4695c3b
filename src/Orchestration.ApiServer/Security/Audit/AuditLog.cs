using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Security.Authorization;

namespace Orchestration.ApiServer.Security.Audit;

/// <summary>
/// kube-apiserver's audit log backend: one JSON line per audit event (audit.k8s.io/v1 <c>Event</c>)
/// appended to a file, at the level the <see cref="AuditPolicy"/> gives each request. Events are
/// written by one background writer, so a request never waits on the disk.
/// </summary>
public sealed partial class AuditLog : IAsyncDisposable
{
    private readonly Channel<JsonObject> _events = Channel.CreateUnbounded<JsonObject>();
    private readonly AuditPolicy _policy;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly long _bodyLimit;
    private readonly Task _writer;

    /// <summary>Appends the events <paramref name="policy"/> asks for to the file at <paramref name="path"/>.</summary>
    public AuditLog(AuditPolicy policy, string path, long bodyLimit, TimeProvider timeProvider, ILogger<AuditLog> logger)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentException.ThrowIfNullOrEmpty(path);
        _policy = policy;
        _bodyLimit = bodyLimit;
        _timeProvider = timeProvider;
        _logger = logger;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _writer = WriteAsync(file);
    }

    /// <summary>Adds auditing to the pipeline: after authentication (the user is known), before impersonation and authorization (refusals are audited too).</summary>
    public void Use(IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(AuditAsync);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _events.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private async Task AuditAsync(HttpContext context, RequestDelegate next)
    {
        if (UserInfo.Of(context) is not { } user)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var attributes = AuthorizationAttributes.Of(context, user);
        var (level, omit) = _policy.Evaluate(attributes);
        if (level == AuditLevel.None)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var received = _timeProvider.GetUtcNow();
        var auditId = Guid.NewGuid().ToString();
        JsonNode? requestObject = null;
        if (level >= AuditLevel.Request && context.Request.ContentLength is > 0 && context.Request.ContentLength <= _bodyLimit && IsJson(context.Request.ContentType))
        {
            context.Request.EnableBuffering();
            requestObject = await ReadJsonAsync(context.Request.Body, context.RequestAborted).ConfigureAwait(false);
            context.Request.Body.Position = 0;
        }

        if (!omit.Contains("RequestReceived"))
        {
            _events.Writer.TryWrite(Event(context, attributes, level, auditId, "RequestReceived", received, received, requestObject, null, null));
        }

        var annotations = new AuditAnnotations();
        context.Features.Set(annotations);
        var original = context.Response.Body;
        using var captured = level == AuditLevel.RequestResponse && !attributes.IsLongRunning ? new MemoryStream() : null;
        if (captured is not null)
        {
            context.Response.Body = new TeeStream(original, captured);
        }

        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Response.Body = original;
            if (!omit.Contains("ResponseComplete"))
            {
                JsonNode? responseObject = null;
                if (captured is { Length: > 0 } && IsJson(context.Response.ContentType))
                {
                    captured.Position = 0;
                    responseObject = await ReadJsonAsync(captured, CancellationToken.None).ConfigureAwait(false);
                }

                var impersonated = UserInfo.Of(context) is { } acting && !ReferenceEquals(acting, user) && acting.Name != user.Name ? acting : null;
                var completed = Event(context, attributes, level, auditId, "ResponseComplete", received, _timeProvider.GetUtcNow(), requestObject, responseObject, impersonated);
                lock (annotations.Values)
                {
                    if (annotations.Values.Count > 0)
                    {
                        completed["annotations"] = new JsonObject([.. annotations.Values.Select(a => KeyValuePair.Create(a.Key, (JsonNode?)JsonValue.Create(a.Value)))]);
                    }
                }

                _events.Writer.TryWrite(completed);
            }
        }
    }

    private static JsonObject Event(HttpContext context, AuthorizationAttributes request, AuditLevel level, string auditId, string stage, DateTimeOffset received, DateTimeOffset now, JsonNode? requestObject, JsonNode? responseObject, UserInfo? impersonated)
    {
        var evt = new JsonObject
        {
            ["kind"] = "Event",
            ["apiVersion"] = "audit.k8s.io/v1",
            ["level"] = level.ToString(),
            ["auditID"] = auditId,
            ["stage"] = stage,
            ["requestURI"] = context.Request.Path.Value + context.Request.QueryString.Value,
            ["verb"] = request.Verb,
            ["user"] = UserJson(request.User),
            ["sourceIPs"] = new JsonArray(context.Connection.RemoteIpAddress?.ToString() is { } ip ? [JsonValue.Create(ip)] : []),
            ["userAgent"] = context.Request.Headers.UserAgent.ToString(),
        };
        if (impersonated is not null)
        {
            evt["impersonatedUser"] = UserJson(impersonated);
        }

        if (request.IsResourceRequest)
        {
            var objectRef = new JsonObject { ["resource"] = request.Resource, ["apiGroup"] = request.ApiGroup, ["apiVersion"] = request.ApiVersion };
            if (request.Namespace.Length > 0)
            {
                objectRef["namespace"] = request.Namespace;
            }

            if (request.Name.Length > 0)
            {
                objectRef["name"] = request.Name;
            }

            if (request.Subresource.Length > 0)
            {
                objectRef["subresource"] = request.Subresource;
            }

            evt["objectRef"] = objectRef;
        }

        if (stage == "ResponseComplete")
        {
            var code = context.Response.StatusCode;
            evt["responseStatus"] = code >= 400
                ? new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Failure", ["code"] = code }
                : new JsonObject { ["metadata"] = new JsonObject(), ["code"] = code };
        }

        if (requestObject is not null)
        {
            evt["requestObject"] = requestObject;
        }

        if (responseObject is not null)
        {
            evt["responseObject"] = responseObject;
        }

        evt["requestReceivedTimestamp"] = Timestamp(received);
        evt["stageTimestamp"] = Timestamp(now);
        return evt;
    }

    private static JsonObject UserJson(UserInfo user)
    {
        var json = new JsonObject { ["username"] = user.Name, ["groups"] = new JsonArray([.. user.Groups.Select(g => (JsonNode?)JsonValue.Create(g))]) };
        if (user.Uid.Length > 0)
        {
            json["uid"] = user.Uid;
        }

        return json;
    }

    private static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static bool IsJson(string? contentType) => contentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true;

    private static async Task<JsonNode?> ReadJsonAsync(Stream stream, CancellationToken cancellationToken)
    {
        try
        {
            return await JsonNode.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            // Not JSON after all (a malformed body the handler will refuse): the event goes without it.
            return null;
        }
    }

    private async Task WriteAsync(FileStream file)
    {
        await using (file.ConfigureAwait(false))
        {
            await foreach (var evt in _events.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                try
                {
                    await file.WriteAsync(Encoding.UTF8.GetBytes(evt.ToJsonString() + "\n")).ConfigureAwait(false);
                    // Flushed once nothing more is waiting: a burst of events is one write to disk.
                    if (_events.Reader.Count == 0)
                    {
                        await file.FlushAsync().ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    LogWriteFailed(ex);
                }
            }
        }
    }

    [LoggerMessage(EventId = 2050, Level = LogLevel.Error, Message = "The audit log could not be written")]
    private partial void LogWriteFailed(Exception ex);

    // Writes go to the client and into the copy the audit event reads the response object from.
    private sealed class TeeStream(Stream inner, Stream copy) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            copy.Write(buffer, offset, count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            copy.Write(buffer.Span);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }
}

/// <summary>The audit annotations admission plugins add to the request being recorded (a request feature).</summary>
internal sealed class AuditAnnotations
{
    /// <summary>The annotations by key.</summary>
    public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);
}
