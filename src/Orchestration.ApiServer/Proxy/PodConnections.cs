using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Orchestration.Client;
using Orchestration.Resources;
using Orchestration.Streaming;
using Orchestration.Streaming.WebSockets;

namespace Orchestration.ApiServer.Proxy;

/// <summary>
/// The pod subresources that reach into a node: <c>log</c>, <c>exec</c>, <c>attach</c> and
/// <c>portforward</c>. Each is checked here against the pod (a container that exists, a pod that is
/// placed and not finished), then forwarded to the agent of the pod's node at the address and port
/// its Node reports, as kube-apiserver forwards to kubelet.
/// </summary>
public sealed class PodConnections(ObjectRegistry registry)
{
    /// <summary>The default container annotation kubectl also reads.</summary>
    private const string DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container";

    /// <summary>Serves one of the subresources for the pod <paramref name="ns"/>/<paramref name="name"/>.</summary>
    public async Task ServeAsync(HttpContext context, string subresource, string ns, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        var pods = registry.Kinds.Find("", "pods")!;
        var pod = await registry.GetAsync(pods, ns, name, context.RequestAborted).ConfigureAwait(false);
        var query = context.Request.Query;
        var nodeName = pod["spec"]?["nodeName"]?.ToString();
        if (string.IsNullOrEmpty(nodeName))
        {
            throw new BadRequestException($"pod {name} does not have a host assigned");
        }

        string path;
        string? extraQuery = null;
        switch (subresource)
        {
            case "log":
                var logged = ContainerOf(pod, name, query["container"].ToString(), forLogs: true);
                path = $"/containerLogs/{ns}/{name}/{logged}";
                extraQuery = LoggedContainerId(pod, name, logged, Flag(query, "previous")) is { } id ? $"containerId={Uri.EscapeDataString(id)}" : null;
                break;
            case "exec" or "attach":
                var container = ContainerOf(pod, name, query["container"].ToString(), forLogs: false);
                if (pod["status"]?["phase"]?.ToString() is { } phase && phase is "Succeeded" or "Failed")
                {
                    throw new BadRequestException($"cannot {subresource} into a container in a completed pod; current phase is {phase}");
                }

                if (subresource == "exec" && query["command"].Count == 0)
                {
                    throw new BadRequestException("you must specify at least one command for the container");
                }

                if (!Flag(query, "stdin") && !Flag(query, "stdout") && !Flag(query, "stderr"))
                {
                    throw new BadRequestException("you must specify at least 1 of stdin, stdout, stderr");
                }

                path = $"/{subresource}/{ns}/{name}/{container}";
                break;
            default:
                path = $"/portForward/{ns}/{name}";
                break;
        }

        var (host, port) = await AgentOfAsync(nodeName, context.RequestAborted).ConfigureAwait(false);
        var queryString = context.Request.QueryString.Add(extraQuery is null ? QueryString.Empty : new QueryString("?" + extraQuery));
        var target = new Uri($"http://{host}:{port.ToString(CultureInfo.InvariantCulture)}{path}{queryString}");
        Func<CancellationToken, Task<Stream>> connect = token => ConnectAsync(host, port, token);
        try
        {
            if (subresource is "exec" or "attach" && StreamTranslator.Offers(context, StreamTranslator.ChannelV5))
            {
                await StreamTranslator.ExecAsync(context, target, connect, Flag(query, "stdin"), Flag(query, "stdout"), Flag(query, "stderr"), Flag(query, "tty")).ConfigureAwait(false);
            }
            else if (subresource == "portforward" && StreamTranslator.Offers(context, StreamTranslator.PortForwardTunnel))
            {
                await StreamTranslator.PortForwardAsync(context, target, connect).ConfigureAwait(false);
            }
            else
            {
                // SPDY (kubectl before 1.30, or its fallback) and older WebSocket protocols go straight through.
                await StreamingProxy.ForwardAsync(context, target, connect, Refused).ConfigureAwait(false);
            }
        }
        catch (HttpRequestException ex) when (!context.Response.HasStarted)
        {
            throw new ClusterApiException(503, "ServiceUnavailable", $"the node agent of {nodeName} at {host}:{port} does not answer: {ex.Message}", innerException: ex);
        }
    }

    /// <summary>The node agent's refusal, as a Status kubectl shows.</summary>
    private static ClusterApiException Refused(int code, string message) => code switch
    {
        404 => new ClusterApiException(404, "NotFound", message),
        >= 500 => new ClusterApiException(code, "InternalError", message),
        _ => new BadRequestException(message),
    };

    private static async Task<Stream> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The container a request names, or the pod's only (or annotated default) one.</summary>
    private static string ContainerOf(JsonObject pod, string podName, string requested, bool forLogs)
    {
        var spec = pod["spec"] as JsonObject;
        var names = Names(spec?["containers"]).ToList();
        var others = Names(spec?["initContainers"]).Concat(Names(spec?["ephemeralContainers"])).ToList();
        if (string.IsNullOrEmpty(requested))
        {
            if (pod["metadata"]?["annotations"]?[DefaultContainerAnnotation]?.ToString() is { Length: > 0 } annotated && names.Contains(annotated))
            {
                return annotated;
            }

            if (names.Count == 1)
            {
                return names[0];
            }

            var choices = $"[{string.Join(' ', names)}]";
            throw new BadRequestException(others.Count > 0
                ? $"a container name must be specified for pod {podName}, choose one of: {choices} or one of the init containers: [{string.Join(' ', others)}]"
                : $"a container name must be specified for pod {podName}, choose one of: {choices}");
        }

        if (!names.Contains(requested) && !others.Contains(requested))
        {
            throw new BadRequestException($"container {requested} is not valid for pod {podName}");
        }

        if (forLogs && Waiting(pod, requested) is { } reason)
        {
            throw new BadRequestException($"container \"{requested}\" in pod \"{podName}\" is waiting to start: {reason}");
        }

        return requested;
    }

    /// <summary>
    /// The container instance whose log is asked for, by kubelet's rule on the pod's status: with
    /// <c>previous</c> the last terminated one (<c>lastState</c>), else the running one, else the
    /// terminated one, else the last terminated one (a container waiting to restart). Its id goes to
    /// the node, which otherwise picks by its own list.
    /// </summary>
    private static string? LoggedContainerId(JsonObject pod, string podName, string container, bool previous)
    {
        var status = Statuses(pod).FirstOrDefault(s => s["name"]?.ToString() == container);
        var last = status?["lastState"]?["terminated"]?["containerID"]?.ToString();
        if (previous)
        {
            return string.IsNullOrEmpty(last)
                ? throw new BadRequestException($"previous terminated container \"{container}\" in pod \"{podName}\" not found")
                : WithoutScheme(last);
        }

        var chosen = status?["state"]?["running"] is not null || status?["state"]?["terminated"] is not null
            ? status["containerID"]?.ToString()
            : last;
        return string.IsNullOrEmpty(chosen) ? null : WithoutScheme(chosen);
    }

    // containerd://abc → abc
    private static string WithoutScheme(string containerId) =>
        containerId.Contains("://", StringComparison.Ordinal) ? containerId[(containerId.IndexOf("://", StringComparison.Ordinal) + 3)..] : containerId;

    private static IEnumerable<JsonObject> Statuses(JsonObject pod) =>
        (pod["status"]?["containerStatuses"] as JsonArray ?? [])
            .Concat(pod["status"]?["initContainerStatuses"] as JsonArray ?? [])
            .OfType<JsonObject>();

    /// <summary>Why a container that never ran is waiting, from the pod's status; null once it ran.</summary>
    private static string? Waiting(JsonObject pod, string container)
    {
        var statuses = Statuses(pod).FirstOrDefault(s => s["name"]?.ToString() == container);
        if (statuses is null)
        {
            return "ContainerCreating";
        }

        var ran = statuses["state"]?["running"] is not null || statuses["state"]?["terminated"] is not null || statuses["lastState"]?["terminated"] is not null;
        return ran ? null : statuses["state"]?["waiting"]?["reason"]?.ToString() ?? "ContainerCreating";
    }

    private static IEnumerable<string> Names(JsonNode? containers) =>
        (containers as JsonArray ?? []).OfType<JsonObject>().Select(c => c["name"]?.ToString()).OfType<string>();

    private async Task<(string Host, int Port)> AgentOfAsync(string nodeName, CancellationToken cancellationToken)
    {
        var nodes = registry.Kinds.Find("", "nodes")!;
        var node = await registry.GetAsync(nodes, null, nodeName, cancellationToken).ConfigureAwait(false);
        var status = node["status"] as JsonObject;
        var addresses = (status?["addresses"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var host = (addresses.FirstOrDefault(a => a["type"]?.ToString() == "InternalIP")
            ?? addresses.FirstOrDefault(a => a["type"]?.ToString() == "Hostname"))?["address"]?.ToString();
        var portNode = status?["daemonEndpoints"]?["kubeletEndpoint"]?["Port"] ?? status?["daemonEndpoints"]?["kubeletEndpoint"]?["port"];
        if (string.IsNullOrEmpty(host) || portNode is not JsonValue value || !value.TryGetValue<int>(out var port) || port <= 0)
        {
            throw new BadRequestException($"node {nodeName} reports no agent endpoint (status.addresses and status.daemonEndpoints): its runtime serves no logs, exec or port-forward");
        }

        return (host, port);
    }

    private static bool Flag(IQueryCollection query, string name) =>
        query[name].ToString() is "true" or "1" or "True";
}
