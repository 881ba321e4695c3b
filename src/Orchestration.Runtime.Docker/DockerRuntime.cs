using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux;

namespace Orchestration.Runtime.Docker;

/// <summary>
/// <see cref="INodeRuntime"/> over the Docker Engine API on dockerd's unix socket. A pod is a
/// sandbox container (the local sandbox image, whose process only sleeps) on a bridge network whose
/// subnet is the node's pod CIDR, and its containers join the sandbox's network and IPC namespaces
/// (<c>container:&lt;sandbox id&gt;</c>), so they share localhost and one IP, as kubelet's dockershim
/// built pods. Everything the node agent needs back after a restart is kept in container labels.
/// Images are only taken from what dockerd holds; a missing one is an <see cref="ImageNotPresentException"/>.
/// Network probes connect from inside dockerd's network namespace (see <see cref="DockerRuntimeOptions.NetworkNamespacePath"/>).
/// </summary>
public sealed partial class DockerRuntime : INodeRuntime, IRuntimeConnection, IContainerStreams, INetworkProber, IRuntimeConditions, IAsyncDisposable, IDisposable
{
    private const string UnknownVersion = "docker://unknown";

    private readonly DockerRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DockerClient _client;
    private readonly NamespacedNetworkProber _prober;
    private readonly SemaphoreSlim _networkLock = new(1, 1);

    // Statuses of running and exited containers only change by leaving that state, so a relist asks
    // dockerd for one list and inspects only containers whose state moved.
    private readonly ConcurrentDictionary<string, ContainerStatus> _statuses = new(StringComparer.Ordinal);
    private string _version = UnknownVersion;

    /// <summary>Creates a client of the dockerd at <see cref="DockerRuntimeOptions.SocketPath"/>; it connects on first use.</summary>
    public DockerRuntime(IOptions<DockerRuntimeOptions> options, TimeProvider? timeProvider = null, ILogger<DockerRuntime>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;

        // No client-side timeout: every call carries its own deadline (a stop waits its grace period).
        _client = new DockerClientConfiguration(new Uri("unix://" + _options.SocketPath), defaultTimeout: Timeout.InfiniteTimeSpan).CreateClient();
        _prober = new NamespacedNetworkProber(_options.NetworkNamespacePath);
    }

    /// <summary>The runtime's name and version as the node reports it (<c>docker://20.10.24</c>), once <see cref="ConnectAsync"/> ran.</summary>
    public string Version => _version;

    /// <summary>Asks dockerd for its version, retrying until it answers or <paramref name="timeout"/> passes.</summary>
    /// <exception cref="IOException">dockerd did not answer on its socket in time.</exception>
    public async Task ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            try
            {
                await ReadVersionAsync(cancellationToken).ConfigureAwait(false);
                LogConnected(_version, _options.SocketPath);
                return;
            }
            catch (IOException) when (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                throw new IOException($"dockerd at {_options.SocketPath} did not answer within {timeout}: {ex.Message}. Is it running?", ex);
            }
        }
    }

    /// <summary>
    /// RuntimeReady while dockerd answers its ping; NetworkReady once the pod network exists (after
    /// <see cref="UpdateRuntimeConfigAsync"/>), since sandboxes get no IP before.
    /// </summary>
    /// <exception cref="IOException">dockerd does not answer on its socket.</exception>
    public async Task<IReadOnlyList<RuntimeCondition>> GetConditionsAsync(CancellationToken cancellationToken)
    {
        await CallAsync("ping", cancellationToken, ct => _client.System.PingAsync(ct)).ConfigureAwait(false);
        if (_version == UnknownVersion)
        {
            await ReadVersionAsync(cancellationToken).ConfigureAwait(false);
        }

        var network = await FindNetworkAsync(cancellationToken).ConfigureAwait(false);
        return
        [
            new RuntimeCondition(RuntimeCondition.RuntimeReady, true, "", ""),
            network is null
                ? new RuntimeCondition(RuntimeCondition.NetworkReady, false, "NetworkPluginNotReady", $"the pod network {_options.NetworkName} does not exist yet: the node has no pod CIDR")
                : new RuntimeCondition(RuntimeCondition.NetworkReady, true, "", ""),
        ];
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _client.Dispose();
        _prober.Dispose();
        _networkLock.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task ReadVersionAsync(CancellationToken cancellationToken)
    {
        var version = await CallAsync("version", cancellationToken, ct => _client.System.GetVersionAsync(ct)).ConfigureAwait(false);

        // Debian's build says 20.10.24+dfsg1: the node reports the engine's version, as kubelet did.
        var number = version.Version.Split('+')[0].TrimStart('v');
        _version = $"docker://{number}";
    }

    private async Task<T> CallAsync<T>(string operation, CancellationToken cancellationToken, Func<CancellationToken, Task<T>> call, string? subject = null, bool ignoreNotFound = false, TimeSpan extra = default)
    {
        using var limit = new CancellationTokenSource(_options.CallTimeout + extra, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            return await call(linked.Token).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ignoreNotFound && ex.StatusCode == HttpStatusCode.NotFound)
        {
            // Stopping or removing what is already gone is done, as kubelet treats it; a look-up finds nothing.
            return default!;
        }
        catch (OperationCanceledException ex) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{Describe(operation, subject)}: dockerd at {_options.SocketPath} did not answer within {_options.CallTimeout + extra}", ex);
        }
        catch (Exception ex) when (ex is DockerApiException or HttpRequestException or IOException or SocketException)
        {
            throw Translate(ex, operation, subject);
        }
    }

    private async Task CallAsync(string operation, CancellationToken cancellationToken, Func<CancellationToken, Task> call, string? subject = null, bool ignoreNotFound = false, TimeSpan extra = default) =>
        await CallAsync<bool>(operation, cancellationToken, async ct => { await call(ct).ConfigureAwait(false); return true; }, subject, ignoreNotFound, extra).ConfigureAwait(false);

    // The node agent reports InvalidOperationException and IOException as the container's waiting
    // reason; Docker.DotNet's own exception types would escape it.
    private Exception Translate(Exception ex, string operation, string? subject) => ex switch
    {
        DockerApiException api => new InvalidOperationException($"{Describe(operation, subject)} failed: {Message(api)}", ex),
        _ => new IOException($"{Describe(operation, subject)}: dockerd at {_options.SocketPath} is not answering ({ex.Message})", ex),
    };

    private static string Describe(string operation, string? subject) => subject is null ? $"Docker {operation}" : $"Docker {operation} for {subject}";

    // dockerd answers errors as {"message":"..."}; the message alone is what a user can act on.
    private static string Message(DockerApiException ex)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(ex.ResponseBody);
            if (document.RootElement.TryGetProperty("message", out var message) && message.GetString() is { } text)
            {
                return text;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: the body as it is.
        }

        return ex.ResponseBody.Trim();
    }

    /// <summary>
    /// The labels this runtime keeps on its containers. Pod identity, container name, attempt,
    /// sandbox and image as the pod named it are what a restarted agent rebuilds its pods from.
    /// </summary>
    internal static class Labels
    {
        public const string Prefix = "io.orchestration.";
        public const string Kind = "io.orchestration.kind";
        public const string PodNamespace = "io.orchestration.pod.namespace";
        public const string PodName = "io.orchestration.pod.name";
        public const string PodUid = "io.orchestration.pod.uid";
        public const string ContainerName = "io.orchestration.container.name";
        public const string Attempt = "io.orchestration.container.attempt";
        public const string SandboxId = "io.orchestration.sandbox-id";
        public const string Image = "io.orchestration.image";
    }

    [LoggerMessage(EventId = 4250, Level = LogLevel.Information, Message = "Connected to {Runtime} at {Socket}")]
    private partial void LogConnected(string runtime, string socket);

    [LoggerMessage(EventId = 4251, Level = LogLevel.Warning, Message = "Replacing Docker network {Network} (subnet {Old}) with one for pod CIDR {Cidr}")]
    private partial void LogNetworkReplaced(string network, string old, string cidr);

    [LoggerMessage(EventId = 4252, Level = LogLevel.Information, Message = "Created Docker network {Network} for pod CIDR {Cidr} (gateway {Gateway})")]
    private partial void LogNetworkCreated(string network, string cidr, string gateway);

    [LoggerMessage(EventId = 4253, Level = LogLevel.Debug, Message = "Sandbox {SandboxId} of pod {Namespace}/{Name} runs with IP {Ip}")]
    private partial void LogSandboxRuns(string sandboxId, string @namespace, string name, string ip);
}
