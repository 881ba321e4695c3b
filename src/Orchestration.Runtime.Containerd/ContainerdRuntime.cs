using System.Collections.Concurrent;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Runtime.Linux;

namespace Orchestration.Runtime.Containerd;

/// <summary>
/// <see cref="INodeRuntime"/> over containerd's CRI plugin (CRI v1 gRPC on its unix socket): a pod
/// is a CRI pod sandbox (with its own network namespace and IP from the CNI bridge), its containers
/// CRI containers. Images are only taken from what containerd holds; a missing one is an
/// <see cref="ImageNotPresentException"/>. Network probes connect from inside containerd's network
/// namespace (see <see cref="ContainerdRuntimeOptions.NetworkNamespacePath"/>).
/// </summary>
public sealed partial class ContainerdRuntime : INodeRuntime, IRuntimeConnection, IStreamingRuntime, INetworkProber, IRuntimeConditions, IAsyncDisposable, IDisposable
{
    /// <summary>The annotation that keeps the image as the pod named it, which is what the status reports.</summary>
    private const string ImageAnnotation = "io.orchestration.image";

    /// <summary>The annotation that keeps the container's sandbox id, which CRI's container status leaves out.</summary>
    private const string SandboxAnnotation = "io.orchestration.sandbox-id";

    private readonly ContainerdRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly GrpcChannel _channel;
    private readonly Cri.RuntimeService.RuntimeServiceClient _runtime;
    private readonly Cri.ImageService.ImageServiceClient _images;
    private readonly NamespacedNetworkProber _prober;

    // Statuses of running and exited containers only change by leaving that state, so the 1 s relist
    // asks containerd for one list and fetches a status only for containers whose state moved.
    private readonly ConcurrentDictionary<string, ContainerStatus> _statuses = new(StringComparer.Ordinal);

    // A sandbox keeps its IP for life: remembered, so that a list is one CRI call, not one per sandbox.
    private readonly ConcurrentDictionary<string, string> _sandboxIps = new(StringComparer.Ordinal);
    private const string UnknownVersion = "containerd://unknown";

    /// <summary>How many sandbox attempts of one pod are tried when containerd holds the names of earlier ones.</summary>
    private const uint MaxSandboxAttempts = 10;
    private string _version = UnknownVersion;

    /// <summary>Creates a client of the containerd at <see cref="ContainerdRuntimeOptions.SocketPath"/>; it connects on first use.</summary>
    public ContainerdRuntime(IOptions<ContainerdRuntimeOptions> options, TimeProvider? timeProvider = null, ILogger<ContainerdRuntime>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var socketPath = _options.SocketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };

        // The authority is never resolved: every connection goes to the unix socket above.
        _channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        _runtime = new Cri.RuntimeService.RuntimeServiceClient(_channel);
        _images = new Cri.ImageService.ImageServiceClient(_channel);
        _prober = new NamespacedNetworkProber(_options.NetworkNamespacePath);
    }

    /// <summary>The runtime's name and version as the CRI reports them (<c>containerd://1.6.20</c>), once <see cref="ConnectAsync"/> ran.</summary>
    public string Version => _version;

    /// <summary>
    /// Asks containerd for its version and whether its runtime is ready, retrying until it answers
    /// or <paramref name="timeout"/> passes.
    /// </summary>
    /// <exception cref="IOException">containerd did not answer on its socket in time.</exception>
    public async Task ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            try
            {
                var version = await _runtime.VersionAsync(new Cri.VersionRequest { Version = "v1" }, Options(cancellationToken)).ResponseAsync.ConfigureAwait(false);
                _version = $"{version.RuntimeName}://{version.RuntimeVersion.TrimStart('v')}";
                LogConnected(_version, version.RuntimeApiVersion, _options.SocketPath);
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && _time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time, cancellationToken).ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                throw new IOException($"containerd at {_options.SocketPath} did not answer CRI Version within {timeout}: {ex.Status.Detail}. Is it running, with the CRI plugin enabled?", ex);
            }
        }
    }

    /// <summary>
    /// The runtime's conditions (RuntimeReady, NetworkReady) as CRI <c>Status</c> reports them; a
    /// containerd that was not answering when <see cref="ConnectAsync"/> ran gives its version here.
    /// </summary>
    /// <exception cref="IOException">containerd does not answer on its socket.</exception>
    public async Task<IReadOnlyList<RuntimeCondition>> GetConditionsAsync(CancellationToken cancellationToken)
    {
        var response = await CallAsync("Status", () => _runtime.StatusAsync(new Cri.StatusRequest(), Options(cancellationToken))).ConfigureAwait(false);
        if (_version == UnknownVersion)
        {
            var version = await CallAsync("Version", () => _runtime.VersionAsync(new Cri.VersionRequest { Version = "v1" }, Options(cancellationToken))).ConfigureAwait(false);
            _version = $"{version.RuntimeName}://{version.RuntimeVersion.TrimStart('v')}";
        }

        return response.Status.Conditions.Select(c => new RuntimeCondition(c.Type, c.Status, c.Reason, c.Message)).ToList();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _channel.Dispose();
        _prober.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private CallOptions Options(CancellationToken cancellationToken, TimeSpan extra = default) =>
        new(deadline: Deadline(_options.CallTimeout + extra), cancellationToken: cancellationToken);

    private DateTime Deadline(TimeSpan after) => _time.GetUtcNow().UtcDateTime + after;

    private async Task<T> CallAsync<T>(string method, Func<AsyncUnaryCall<T>> call, string? subject = null, bool ignoreNotFound = false)
        where T : new()
    {
        try
        {
            return await call().ResponseAsync.ConfigureAwait(false);
        }
        catch (RpcException ex) when (ignoreNotFound && (ex.StatusCode == StatusCode.NotFound || ex.Status.Detail.Contains("not found", StringComparison.OrdinalIgnoreCase)))
        {
            // Stopping or removing what is already gone is done, as kubelet treats it.
            return new T();
        }
        catch (RpcException ex)
        {
            throw Translate(ex, method, subject);
        }
    }

    // The node agent reports InvalidOperationException and IOException as the container's waiting
    // reason; gRPC's own exception type would escape it.
    private Exception Translate(RpcException ex, string method, string? subject)
    {
        var what = subject is null ? $"CRI {method}" : $"CRI {method} for {subject}";
        if (ex.StatusCode == StatusCode.Unavailable)
        {
            return new IOException($"{what}: containerd at {_options.SocketPath} is not answering ({ex.Status.Detail})", ex);
        }

        if (ex.StatusCode == StatusCode.Cancelled)
        {
            return new OperationCanceledException($"{what} was cancelled", ex);
        }

        return new InvalidOperationException($"{what} failed: {ex.Status.Detail}", ex);
    }

    /// <summary>The labels kubelet puts on sandboxes, which the list is filtered by.</summary>
    private static class PodLabels
    {
        public const string Name = "io.kubernetes.pod.name";
        public const string Namespace = "io.kubernetes.pod.namespace";
        public const string Uid = "io.kubernetes.pod.uid";
    }

    [LoggerMessage(EventId = 4150, Level = LogLevel.Information, Message = "Connected to {Runtime} (CRI {ApiVersion}) at {Socket}")]
    private partial void LogConnected(string runtime, string apiVersion, string socket);

    [LoggerMessage(EventId = 4151, Level = LogLevel.Debug, Message = "Sandbox name of pod {Namespace}/{Name} at attempt {Attempt} is taken; trying the next attempt")]
    private partial void LogSandboxNameTaken(string @namespace, string name, uint attempt);

    [LoggerMessage(EventId = 4152, Level = LogLevel.Debug, Message = "Sandbox {SandboxId} of pod {Namespace}/{Name} runs with IP {Ip}")]
    private partial void LogSandboxRuns(string sandboxId, string @namespace, string name, string ip);
}
