using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Networking;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// The nftables network proxy: one table of its own in the node's network namespace (see
/// <see cref="NftablesRuleset"/>), changed by one nftables transaction per sync. The first sync
/// replaces the whole table (taking over what a killed proxy left: connections already set up keep
/// going, since their translation lives in conntrack, not in the rules); later syncs rewrite only the
/// ports that changed. A failed change is retried once as a whole table; if that fails too, the rules
/// stay as the kernel has them and the error says what nft refused. nftables' own library
/// (libnftables) is driven in this process, from a thread inside the node's namespace. Needs root and nftables.
/// </summary>
public sealed partial class NftablesProxy : INetworkProxy, IDisposable
{
    private readonly NftablesProxyOptions _options;
    private readonly INodeNetworkNamespace? _node;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Libnftables? _nft;
    private Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)>? _applied;
    private bool _prepared;

    /// <summary>A proxy as <paramref name="options"/> say, in <paramref name="node"/>'s namespace when the options name none.</summary>
    public NftablesProxy(IOptions<NftablesProxyOptions> options, ILogger<NftablesProxy> logger, INodeNetworkNamespace? node = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _node = node;
        _logger = logger;
    }

    /// <summary>The namespace programmed, or null for this process's own.</summary>
    public string? NetworkNamespacePath => _options.NetworkNamespacePath ?? _node?.NetworkNamespacePath;

    /// <summary>How long the last sync's nft transaction took, and how many bytes of script it applied.</summary>
    public (TimeSpan Elapsed, int ScriptLength, bool Full) LastSync { get; private set; }

    /// <summary>Clears <see cref="LastSync"/>, so that a caller sees whether the next sync wrote anything.</summary>
    public void ForgetLastSync() => LastSync = default;

    /// <inheritdoc />
    public async Task SyncAsync(ServiceTable table, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            var next = new Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)>(table.Ports.Count);
            foreach (var (name, port) in table.Ports)
            {
                // An unchanged port keeps its program object: the change script skips it by reference.
                next[name] = _applied is not null && _applied.TryGetValue(name, out var was) && was.Port.Equals(port)
                    ? was
                    : (port, NftablesRuleset.For(port, _options.ClusterCidr));
            }

            if (_applied is not null)
            {
                var changes = NftablesRuleset.Changes(_options.TableName, Programs(_applied), Programs(next));
                if (changes.Length == 0)
                {
                    return;
                }

                var (ok, output, elapsed) = await ApplyAsync(changes, cancellationToken).ConfigureAwait(false);
                if (ok)
                {
                    _applied = next;
                    LastSync = (elapsed, changes.Length, false);
                    return;
                }

                LogChangeRefused(output.Trim());
            }

            var full = NftablesRuleset.Full(_options.TableName, next.Values.Select(v => v.Program));
            var (fullOk, fullOutput, fullElapsed) = await ApplyAsync(full, cancellationToken).ConfigureAwait(false);
            if (!fullOk)
            {
                _applied = null;
                throw new NetworkProxyException($"nft refused the proxy's rules for {table.Ports.Count} service ports in {NamespaceText}: {Trim(fullOutput)}");
            }

            _applied = next;
            LastSync = (fullElapsed, full.Length, true);
            LogFullSync(table.Ports.Count, full.Length, fullElapsed.TotalMilliseconds);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task CleanUpAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_applied is null && !_prepared && NetworkNamespacePath is { } path && !File.Exists(path))
            {
                return;
            }

            try
            {
                await PrepareAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NetworkProxyException)
            {
                // Without nftables or the namespace there is nothing of this proxy's to remove.
                return;
            }

            // "add" first, so deleting a table that is already gone is not an error.
            var (ok, output, _) = await ApplyAsync($"add table ip {_options.TableName}\ndelete table ip {_options.TableName}\n", cancellationToken).ConfigureAwait(false);
            _applied = null;
            if (!ok)
            {
                throw new NetworkProxyException($"nft could not delete table ip {_options.TableName} in {NamespaceText}: {Trim(output)}");
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Frees the library's context and ends the namespace thread.</summary>
    public void Dispose()
    {
        _nft?.Dispose();
        _gate.Dispose();
    }

    private string NamespaceText => NetworkNamespacePath is { } path ? $"network namespace {path}" : "this process's network namespace";

    private static Dictionary<ServicePortName, PortProgram> Programs(Dictionary<ServicePortName, (ServicePort Port, PortProgram Program)> applied) =>
        applied.ToDictionary(kv => kv.Key, kv => kv.Value.Program);

    private async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (_prepared)
        {
            return;
        }

        if (NetworkNamespacePath is { } path && !File.Exists(path))
        {
            throw new NetworkProxyException($"the node's network namespace {path} does not exist");
        }

        _nft ??= new Libnftables(_options.LibraryPath, new NamespaceThread(NetworkNamespacePath));
        try
        {
            await _nft.LoadAsync().WaitAsync(cancellationToken).ConfigureAwait(false);

            // Pods on one bridge reach each other's Services only if bridged packets pass the IP hooks
            // (replies are un-NATed there), and DNAT to another pod needs forwarding.
            await _nft.WriteSysctlAsync("/proc/sys/net/ipv4/ip_forward", "1").ConfigureAwait(false);
            await _nft.WriteSysctlAsync("/proc/sys/net/bridge/bridge-nf-call-iptables", "1").ConfigureAwait(false);
        }
        catch (DllNotFoundException ex)
        {
            throw new NetworkProxyException($"nftables is not installed: {_options.LibraryPath} cannot be loaded ({ex.Message}); install nftables (scripts/install-deps.sh) or run without the nftables proxy (--proxy-mode none)", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new NetworkProxyException($"could not prepare {NamespaceText}: {ex.Message}", ex);
        }

        _prepared = true;
    }

    private async Task<(bool Ok, string Output, TimeSpan Elapsed)> ApplyAsync(string script, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var (ok, error) = await _nft!.RunAsync(script).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (ok, error, Stopwatch.GetElapsedTime(started));
    }

    private static string Trim(string output)
    {
        var text = output.Trim();
        return text.Length > 2000 ? text[..2000] + " ..." : text;
    }

    [LoggerMessage(EventId = 4040, Level = LogLevel.Information, Message = "nftables proxy wrote its whole table: {Ports} service ports, {Bytes} bytes of rules in {Milliseconds} ms")]
    private partial void LogFullSync(int ports, int bytes, double milliseconds);

    [LoggerMessage(EventId = 4041, Level = LogLevel.Warning, Message = "nft refused a change to the proxy's table ({Output}); writing the whole table instead")]
    private partial void LogChangeRefused(string output);
}
