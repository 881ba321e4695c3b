using System.Globalization;
using System.Text.RegularExpressions;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Orchestration.Client;
using Orchestration.Runtime;

namespace Orchestration.NodeAgent;

/// <summary>
/// The node's Ready condition, decided as kubelet decides it: False with reason
/// <c>KubeletNotReady</c> while the runtime does not answer (<c>container runtime is down</c>),
/// reports one of its conditions false (<c>container runtime not ready</c>, <c>container runtime
/// network not ready</c>), or the relist has not succeeded within
/// <see cref="NodeAgentOptions.RelistThreshold"/> (<c>PLEG is not healthy</c>); True with
/// <c>KubeletReady</c> otherwise. Its loop asks the runtime every
/// <see cref="NodeAgentOptions.RuntimeStatusInterval"/> and writes the condition only when it
/// changed, so a healthy node costs no writes beyond its Lease.
/// </summary>
internal sealed partial class NodeReadiness(IClusterClient client, INodeRuntime runtime, NodeAgentOptions options, TimeProvider time, ILogger logger)
{
    public const string ReadyReason = "KubeletReady";
    public const string NotReadyReason = "KubeletNotReady";
    public const string ReadyMessage = "the node agent is posting ready status";

    private long _relistedAtTicks = time.GetUtcNow().UtcTicks;
    private volatile IReadOnlyList<string> _runtimeErrors = [];
    private (bool Ready, string Message, string Version)? _posted;
    private string? _logged = ReadyMessage;
    private DateTimeOffset _verifiedAt;

    /// <summary>Whether the node is ready by the last runtime check and relist.</summary>
    public bool Ready => Errors(time.GetUtcNow()).Count == 0;

    /// <summary>The relist (kubelet's PLEG) went through: the runtime answered it.</summary>
    public void Relisted() => Interlocked.Exchange(ref _relistedAtTicks, time.GetUtcNow().UtcTicks);

    /// <summary>Asks the runtime for its conditions (or, without them, for its sandboxes) and keeps what is wrong.</summary>
    public async Task CheckRuntimeAsync(CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        using var timeout = new CancellationTokenSource(options.RuntimeStatusInterval, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            if (runtime is IRuntimeConditions source)
            {
                var conditions = await source.GetConditionsAsync(linked.Token).ConfigureAwait(false);
                foreach (var type in new[] { RuntimeCondition.RuntimeReady, RuntimeCondition.NetworkReady })
                {
                    var condition = conditions.FirstOrDefault(c => c.Type == type);
                    if (condition is not { Status: true })
                    {
                        var what = type == RuntimeCondition.NetworkReady ? "container runtime network not ready" : "container runtime not ready";
                        errors.Add($"{what}: {(condition is null ? $"{type} missing" : condition.ToString())}");
                    }
                }
            }
            else
            {
                await runtime.ListPodSandboxesAsync(linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            errors.Add($"container runtime is down: it did not answer within {GoDuration(options.RuntimeStatusInterval)}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever the runtime throws, the node is what reports it; the agent goes on.
            errors.Add($"container runtime is down: {ex.Message}");
        }

        _runtimeErrors = errors;
    }

    /// <summary>The Ready condition as of now.</summary>
    public V1NodeCondition Condition(DateTime now, V1NodeCondition? previous = null)
    {
        var errors = Errors(now);
        var status = errors.Count == 0 ? "True" : "False";
        return new V1NodeCondition
        {
            Type = "Ready",
            Status = status,
            Reason = errors.Count == 0 ? ReadyReason : NotReadyReason,
            Message = Message(errors),
            LastHeartbeatTime = now,
            LastTransitionTime = previous?.Status == status ? previous.LastTransitionTime ?? now : now,
        };
    }

    /// <summary>The registration wrote this condition; the loop writes again only when it changes.</summary>
    public void Registered(V1NodeCondition condition)
    {
        _posted = (condition.Status == "True", Unchanging(condition.Message), runtime.Version);
        _verifiedAt = time.GetUtcNow();
        Log(condition.Status == "True", condition.Message);
    }

    /// <summary>
    /// Checks the runtime and writes the condition when it changed, until cancelled; while the node is
    /// not ready it looks every <see cref="NodeAgentOptions.ResyncInterval"/>. Before each check it
    /// gives the runtime the node's pod CIDR once there is one, since a runtime's pod network (and so
    /// NetworkReady) waits for it; after a failed check it gives it again (the first argument of
    /// <paramref name="ensurePodCidr"/> is then true), since a runtime that was started afresh has
    /// forgotten it.
    /// </summary>
    public async Task RunAsync(Func<bool, CancellationToken, Task> ensurePodCidr, CancellationToken cancellationToken)
    {
        var notReadyInterval = options.ResyncInterval < options.RuntimeStatusInterval ? options.ResyncInterval : options.RuntimeStatusInterval;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                try
                {
                    await ensurePodCidr(_runtimeErrors.Count > 0, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // No pod CIDR yet, or the runtime is down: the check below reports what matters.
                }

                await CheckRuntimeAsync(cancellationToken).ConfigureAwait(false);
                await PostAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ClusterApiException or HttpRequestException)
            {
                LogConditionWriteFailed(ex, options.NodeName);
            }

            try
            {
                await Task.Delay(Ready ? options.RuntimeStatusInterval : notReadyInterval, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PostAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var errors = Errors(now);
        var message = Message(errors);
        var desired = (Ready: errors.Count == 0, Message: Unchanging(message), Version: runtime.Version);

        // A ready node that said so is left alone. A node that is not ready looks at what the API holds
        // now and then too: the node lifecycle controller writes Ready when a Lease is renewed again.
        if (desired == _posted && (desired.Ready || now - _verifiedAt < options.RuntimeStatusInterval))
        {
            return;
        }

        var node = await client.GetAsync<V1Node>(null, options.NodeName, cancellationToken).ConfigureAwait(false);
        node.Status ??= new V1NodeStatus();
        var previous = node.Status.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        if (previous is not null
            && previous.Status == (desired.Ready ? "True" : "False")
            && Unchanging(previous.Message) == desired.Message
            && node.Status.NodeInfo?.ContainerRuntimeVersion == desired.Version)
        {
            _posted = desired;
            _verifiedAt = now;
            Log(desired.Ready, message);
            return;
        }

        var condition = Condition(now.UtcDateTime, previous);
        node.Status.Conditions = (node.Status.Conditions ?? []).Where(c => c.Type != "Ready").Append(condition).ToList();
        if (node.Status.NodeInfo is { } info)
        {
            // A runtime that was down when the node registered reports its version only once it answers.
            info.ContainerRuntimeVersion = desired.Version;
        }

        await client.UpdateStatusAsync(node, cancellationToken).ConfigureAwait(false);
        _posted = desired;
        _verifiedAt = now;
        Log(desired.Ready, message);
    }

    private void Log(bool ready, string message)
    {
        if (Unchanging(message) == _logged)
        {
            return;
        }

        _logged = Unchanging(message);
        if (ready)
        {
            LogNodeReady(options.NodeName);
        }
        else if (message.StartsWith("container runtime network not ready", StringComparison.Ordinal))
        {
            // What a node says until its pod CIDR reaches the runtime: expected at every first start.
            LogNodeNetworkNotReady(options.NodeName, message);
        }
        else
        {
            LogNodeNotReady(options.NodeName, message, GoDuration(options.ResyncInterval < options.RuntimeStatusInterval ? options.ResyncInterval : options.RuntimeStatusInterval));
        }
    }

    private List<string> Errors(DateTimeOffset now)
    {
        var errors = new List<string>(_runtimeErrors);
        var since = now - new DateTimeOffset(Interlocked.Read(ref _relistedAtTicks), TimeSpan.Zero);
        if (since > options.RelistThreshold)
        {
            errors.Add($"PLEG is not healthy: pleg was last seen active {GoDuration(since)} ago; threshold is {GoDuration(options.RelistThreshold)}");
        }

        return errors;
    }

    // How long ago the relist last went through grows every second: a message that differs only
    // there is the same news, written and logged once.
    private static string Unchanging(string? message) => message is null ? "" : PlegAge().Replace(message, "pleg was last seen active");

    [GeneratedRegex(@"pleg was last seen active \S+ ago")]
    private static partial Regex PlegAge();

    // kubelet joins several errors as Go's aggregate error prints them.
    private static string Message(List<string> errors) => errors.Count switch
    {
        0 => ReadyMessage,
        1 => errors[0],
        _ => $"[{string.Join(", ", errors)}]",
    };

    /// <summary>A duration as Go prints one (<c>3m0s</c>, <c>5s</c>), whole seconds.</summary>
    internal static string GoDuration(TimeSpan span)
    {
        var seconds = (long)Math.Round(span.TotalSeconds);
        var (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        return h > 0 ? string.Create(CultureInfo.InvariantCulture, $"{h}h{m}m{s}s")
            : m > 0 ? string.Create(CultureInfo.InvariantCulture, $"{m}m{s}s")
            : string.Create(CultureInfo.InvariantCulture, $"{s}s");
    }

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "Node {Node}: writing its Ready condition failed; trying again")]
    private partial void LogConditionWriteFailed(Exception ex, string node);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Information, Message = "Node {Node} is Ready: its container runtime answers")]
    private partial void LogNodeReady(string node);

    [LoggerMessage(EventId = 3022, Level = LogLevel.Warning, Message = "Node {Node} is NotReady: {Message}")]
    private partial void LogNodeNetworkNotReady(string node, string message);

    [LoggerMessage(EventId = 3023, Level = LogLevel.Error, Message = "Node {Node} is NotReady: {Message}. Its pods are left as the runtime holds them; the agent keeps renewing its Lease and checks the runtime again every {Interval}")]
    private partial void LogNodeNotReady(string node, string message, string interval);
}
