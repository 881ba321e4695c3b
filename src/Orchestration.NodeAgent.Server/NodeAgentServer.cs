using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Runtime;
using Orchestration.Streaming;
using Orchestration.Streaming.Spdy;

namespace Orchestration.NodeAgent.Server;

/// <summary>
/// The node agent's own HTTP server, kubelet's port 10250: the API server forwards <c>pods/log</c>,
/// <c>pods/exec</c>, <c>pods/attach</c> and <c>pods/portforward</c> here. Logs are read from the
/// runtime's CRI log files; exec, attach and port-forward ask the runtime for a streaming URL and
/// pipe kubectl's upgraded connection to it, so the runtime's streaming server speaks SPDY and
/// WebSocket to kubectl directly.
/// </summary>
public sealed partial class NodeAgentServer : IAsyncDisposable
{
    private readonly INodeRuntime _runtime;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly WebApplication _app;

    private NodeAgentServer(INodeRuntime runtime, NodeAgentServerOptions options, TimeProvider time, ILogger logger)
    {
        _runtime = runtime;
        _time = time;
        _logger = logger;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(options.Address, options.Port));
        _app = builder.Build();
        _app.MapGet("/healthz", () => "ok");
        _app.MapGet("/containerLogs/{ns}/{pod}/{container}", LogsAsync);
        _app.MapMethods("/exec/{ns}/{pod}/{container}", ["GET", "POST"], ExecAsync);
        _app.MapMethods("/attach/{ns}/{pod}/{container}", ["GET", "POST"], AttachAsync);
        _app.MapMethods("/portForward/{ns}/{pod}", ["GET", "POST"], PortForwardAsync);
    }

    /// <summary>The address and port it listens on, once started.</summary>
    public IPEndPoint? EndPoint { get; private set; }

    /// <summary>Starts serving for the pods of <paramref name="runtime"/>.</summary>
    public static async Task<NodeAgentServer> StartAsync(INodeRuntime runtime, NodeAgentServerOptions options, TimeProvider? timeProvider = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(options);
        var server = new NodeAgentServer(runtime, options, timeProvider ?? TimeProvider.System, logger ?? NullLogger.Instance);
        await server._app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = server._app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.EndPoint = new IPEndPoint(options.Address, new Uri(address).Port);
        server.LogServing(server.EndPoint);
        return server;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task LogsAsync(HttpContext context, string ns, string pod, string container)
    {
        var query = context.Request.Query;
        var previous = Flag(query, "previous");
        var containers = await ContainersAsync(ns, pod, container, context.RequestAborted).ConfigureAwait(false);
        var current = containers.FirstOrDefault();
        // The API server names the instance from the pod's status (kubelet's rule); without it, the
        // newest, or with previous the exited one before it.
        var chosen = query["containerId"].ToString() is { Length: > 0 } wanted
            ? containers.FirstOrDefault(c => c.Id == wanted)
            : previous ? containers.Skip(1).FirstOrDefault(c => c.State == ContainerState.Exited) : current;
        if (chosen is null)
        {
            await ErrorAsync(context, 400, previous
                ? $"previous terminated container \"{container}\" in pod \"{pod}\" not found"
                : $"container \"{container}\" in pod \"{pod}\" is not available").ConfigureAwait(false);
            return;
        }

        if (chosen.LogPath is not { } path || !File.Exists(path))
        {
            await ErrorAsync(context, 404, $"the runtime keeps no log for container \"{container}\" in pod \"{pod}\"").ConfigureAwait(false);
            return;
        }

        DateTimeOffset? since = null;
        if (Number(query, "sinceSeconds") is { } seconds)
        {
            since = _time.GetUtcNow().AddSeconds(-seconds);
        }
        else if (query["sinceTime"].ToString() is { Length: > 0 } sinceTime && DateTimeOffset.TryParse(sinceTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
        {
            since = parsed;
        }

        var options = new LogOptions(Flag(query, "follow") && !previous, Number(query, "tailLines"), Flag(query, "timestamps"), since, Number(query, "limitBytes"));
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain";
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        try
        {
            await ContainerLogReader.CopyAsync(path, options, context.Response.Body, token => StillRunningAsync(chosen.Id, token), _time, context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // kubectl logs -f ended by its user.
        }
    }

    private async Task<bool> StillRunningAsync(string containerId, CancellationToken cancellationToken)
    {
        var all = await _runtime.ListContainersAsync(null, cancellationToken).ConfigureAwait(false);
        return all.Any(c => c.Id == containerId && c.State == ContainerState.Running);
    }

    private Task ExecAsync(HttpContext context, string ns, string pod, string container)
    {
        var command = context.Request.Query["command"].Where(c => c is not null).Select(c => c!).ToList();
        return StreamAsync(
            context,
            ns,
            pod,
            container,
            (streaming, id, options, token) => command.Count == 0
                ? throw new BadRequestException("you must specify at least one command for the container")
                : streaming.ExecAsync(id, options, command, token),
            async (streams, id, wired, token) => command.Count == 0
                ? throw new BadRequestException("you must specify at least one command for the container")
                : await streams.ExecAsync(id, command, wired, token).ConfigureAwait(false));
    }

    private Task AttachAsync(HttpContext context, string ns, string pod, string container) =>
        StreamAsync(
            context,
            ns,
            pod,
            container,
            (streaming, id, options, token) => streaming.AttachAsync(id, options, token),
            (streams, id, wired, token) => streams.AttachAsync(id, wired, token));

    /// <summary>
    /// Exec or attach: piped to the runtime's streaming server when it has one (containerd), else
    /// served here over SPDY on the runtime's plain streams (Docker).
    /// </summary>
    private async Task StreamAsync(
        HttpContext context,
        string ns,
        string pod,
        string container,
        Func<IStreamingRuntime, string, StreamingOptions, CancellationToken, Task<Uri>> prepare,
        Func<IContainerStreams, string, ContainerStreams, CancellationToken, Task<int?>> run)
    {
        if (_runtime is not IStreamingRuntime and not IContainerStreams)
        {
            await ErrorAsync(context, 501, $"the runtime {_runtime.Version} does not stream").ConfigureAwait(false);
            return;
        }

        var running = (await ContainersAsync(ns, pod, container, context.RequestAborted).ConfigureAwait(false)).FirstOrDefault(c => c.State == ContainerState.Running);
        if (running is null)
        {
            await ErrorAsync(context, 400, $"container {container} is not running in pod {pod}").ConfigureAwait(false);
            return;
        }

        var query = context.Request.Query;
        var options = new StreamingOptions(Flag(query, "stdin"), Flag(query, "stdout"), Flag(query, "stderr"), Flag(query, "tty"));
        if (_runtime is not IStreamingRuntime streaming)
        {
            if (!query["command"].Any() && context.Request.Path.StartsWithSegments("/exec", StringComparison.Ordinal))
            {
                await ErrorAsync(context, 400, "you must specify at least one command for the container").ConfigureAwait(false);
                return;
            }

            var streams = (IContainerStreams)_runtime;
            await SpdyStreamServer.ExecAsync(context, options, (wired, token) => run(streams, running.Id, wired, token)).ConfigureAwait(false);
            return;
        }

        Uri url;
        try
        {
            url = await prepare(streaming, running.Id, options, context.RequestAborted).ConfigureAwait(false);
        }
        catch (BadRequestException ex)
        {
            await ErrorAsync(context, 400, ex.Message).ConfigureAwait(false);
            return;
        }

        await StreamingProxy.ForwardAsync(context, url, token => streaming.OpenStreamAsync(url, token)).ConfigureAwait(false);
    }

    private async Task PortForwardAsync(HttpContext context, string ns, string pod)
    {
        if (_runtime is not IStreamingRuntime and not IContainerStreams)
        {
            await ErrorAsync(context, 501, $"the runtime {_runtime.Version} does not stream").ConfigureAwait(false);
            return;
        }

        var sandbox = (await _runtime.ListPodSandboxesAsync(context.RequestAborted).ConfigureAwait(false))
            .FirstOrDefault(s => s.Ready && s.Config.Namespace == ns && s.Config.Name == pod);
        if (sandbox is null)
        {
            await ErrorAsync(context, 400, $"pod {pod} is not running on this node").ConfigureAwait(false);
            return;
        }

        if (_runtime is IContainerStreams own and not IStreamingRuntime)
        {
            await SpdyStreamServer.PortForwardAsync(context, (port, token) => own.ConnectToPodAsync(sandbox.Id, port, token)).ConfigureAwait(false);
            return;
        }

        var streaming = (IStreamingRuntime)_runtime;

        // kubectl names its ports in the streams it opens; the query's list is what CRI wants up front.
        var ports = context.Request.Query["ports"]
            .SelectMany(p => (p ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : 0)
            .Where(p => p is > 0 and <= 65535)
            .ToList();
        var url = await streaming.PortForwardAsync(sandbox.Id, ports, context.RequestAborted).ConfigureAwait(false);
        await StreamingProxy.ForwardAsync(context, url, token => streaming.OpenStreamAsync(url, token)).ConfigureAwait(false);
    }

    /// <summary>The attempts of one container of a pod, newest first.</summary>
    private async Task<IReadOnlyList<ContainerStatus>> ContainersAsync(string ns, string pod, string container, CancellationToken cancellationToken)
    {
        var sandboxes = (await _runtime.ListPodSandboxesAsync(cancellationToken).ConfigureAwait(false))
            .Where(s => s.Config.Namespace == ns && s.Config.Name == pod)
            .ToList();
        var found = new List<ContainerStatus>();
        foreach (var sandbox in sandboxes.OrderByDescending(s => s.Ready))
        {
            found.AddRange((await _runtime.ListContainersAsync(sandbox.Id, cancellationToken).ConfigureAwait(false)).Where(c => c.Name == container));
        }

        return found.OrderByDescending(c => c.Attempt).ThenByDescending(c => c.CreatedAt).ToList();
    }

    private static bool Flag(IQueryCollection query, string name) =>
        query[name].ToString() is "true" or "1" or "True";

    private static long? Number(IQueryCollection query, string name) =>
        long.TryParse(query[name].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static async Task ErrorAsync(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain";
        await context.Response.WriteAsync(message, context.RequestAborted).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 3500, Level = LogLevel.Information, Message = "Node agent serves logs and exec on {EndPoint}")]
    private partial void LogServing(IPEndPoint? endPoint);
}
