using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.Networking;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// The nftables network proxy: tables of its own in the node's network namespace, a main table
/// named <see cref="NftablesProxyOptions.TableName"/> and shard tables <c>NAME-0</c> ... that hold the
/// Service ports (see <c>docs/networking.md</c>), changed by one nftables transaction per sync. The
/// first sync replaces all of them (taking over what a killed proxy left, in whatever layout: connections
/// already set up keep going, since their translation lives in conntrack, not in the rules); later
/// syncs rewrite only the ports that changed, in their shards. A failed change is retried once as a
/// whole; if that fails too, the rules stay as the kernel has them and the error says what nft
/// refused. nftables' own library (libnftables) is driven in this process, from a thread inside the
/// node's namespace. Needs root and nftables.
/// </summary>
public sealed partial class NftablesProxy : INetworkProxy, IDisposable
{
    private readonly NftablesProxyOptions _options;
    private readonly INodeNetworkNamespace? _node;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Libnftables? _nft;
    private NftablesState? _state;
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

    /// <summary>How long the last sync's nft transaction took, how many bytes of script it applied, and whether it wrote all the tables.</summary>
    public (TimeSpan Elapsed, int ScriptLength, bool Full) LastSync { get; private set; }

    /// <summary>The last change sync's script (not a full one's, which may be megabytes), for tests that look at what a change touched.</summary>
    internal string? LastScript { get; private set; }

    /// <summary>The tables the rules are in now, or null before the first sync.</summary>
    internal NftablesLayout? Layout => _state?.Layout;

    /// <summary>Clears <see cref="LastSync"/>, so that a caller sees whether the next sync wrote anything.</summary>
    public void ForgetLastSync()
    {
        LastSync = default;
        LastScript = null;
    }

    /// <inheritdoc />
    public async Task SyncAsync(ServiceTable table, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            if (_state is { } state)
            {
                if (state.Layout.Outgrown(table.Ports.Count))
                {
                    LogOutgrown(table.Ports.Count, state.Layout.Shards);
                }
                else
                {
                    var diff = state.Diff(table, Program);
                    var (changes, stale) = state.ChangeScript(diff);
                    if (changes.Length == 0)
                    {
                        state.Commit(diff, stale);
                        return;
                    }

                    var (ok, output, elapsed) = await ApplyAsync(changes, cancellationToken).ConfigureAwait(false);
                    if (ok)
                    {
                        state.Commit(diff, stale);
                        LastSync = (elapsed, changes.Length, false);
                        LastScript = changes;
                        return;
                    }

                    LogChangeRefused(output.Trim());
                }
            }

            // A table left by an earlier proxy, whatever its layout, is replaced in the same transaction.
            var existing = await ListTablesAsync(cancellationToken).ConfigureAwait(false);
            var next = new NftablesState(NftablesLayout.For(_options.TableName, table.Ports.Count), table.Ports.Count);
            foreach (var (name, port) in table.Ports)
            {
                next.Add(name, port, _state?.ProgramOf(name, port) ?? Program(port));
            }

            var full = NftablesRuleset.Full(next.Layout, existing, next.Programs);
            var (fullOk, fullOutput, fullElapsed) = await ApplyAsync(full, cancellationToken).ConfigureAwait(false);
            if (!fullOk)
            {
                _state = null;
                throw new NetworkProxyException($"nft refused the proxy's rules for {table.Ports.Count} service ports in {NamespaceText}: {Trim(fullOutput)}");
            }

            _state = next;
            LastSync = (fullElapsed, full.Length, true);
            LastScript = null;
            LogFullSync(table.Ports.Count, next.Layout.Shards, full.Length, fullElapsed.TotalMilliseconds);
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
            if (_state is null && !_prepared && NetworkNamespacePath is { } path && !File.Exists(path))
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

            // All of the proxy's tables, in this layout or an earlier one's; "add" first, so that
            // deleting a table that is already gone is not an error.
            var tables = (await ListTablesAsync(cancellationToken).ConfigureAwait(false)).Prepend(_options.TableName).Distinct(StringComparer.Ordinal).ToList();
            var script = string.Concat(tables.Select(t => $"add table ip {t}\ndelete table ip {t}\n"));
            var (ok, output, _) = await ApplyAsync(script, cancellationToken).ConfigureAwait(false);
            _state = null;
            if (!ok)
            {
                throw new NetworkProxyException($"nft could not delete the proxy's tables ({string.Join(", ", tables.Select(t => "ip " + t))}) in {NamespaceText}: {Trim(output)}");
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

    private PortProgram Program(ServicePort port) => NftablesRuleset.For(port, _options.ClusterCidr);

    private string NamespaceText => NetworkNamespacePath is { } path ? $"network namespace {path}" : "this process's network namespace";

    // The proxy's tables now in the namespace, in any layout. "list flowtables" names every table and
    // makes nft fetch only the tables and their flowtables; "list tables" would make nft 1.0 fetch
    // every rule of the namespace, once per table.
    private async Task<IReadOnlyList<string>> ListTablesAsync(CancellationToken cancellationToken)
    {
        var (ok, output, error) = await _nft!.RunAsync("list flowtables ip").WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!ok)
        {
            throw new NetworkProxyException($"nft could not list the tables in {NamespaceText}: {Trim(error)}");
        }

        var tables = new List<string>();
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith("table ip ", StringComparison.Ordinal) && line.EndsWith(" {", StringComparison.Ordinal))
            {
                var name = line["table ip ".Length..^" {".Length];
                if (NftablesLayout.Owns(_options.TableName, name))
                {
                    tables.Add(name);
                }
            }
        }

        return tables;
    }

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
        var (ok, _, error) = await _nft!.RunAsync(script).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (ok, error, Stopwatch.GetElapsedTime(started));
    }

    private static string Trim(string output)
    {
        var text = output.Trim();
        return text.Length > 2000 ? text[..2000] + " ..." : text;
    }

    [LoggerMessage(EventId = 4040, Level = LogLevel.Information, Message = "nftables proxy wrote all its tables: {Ports} service ports in {Shards} shard tables, {Bytes} bytes of rules in {Milliseconds} ms")]
    private partial void LogFullSync(int ports, int shards, int bytes, double milliseconds);

    [LoggerMessage(EventId = 4041, Level = LogLevel.Warning, Message = "nft refused a change to the proxy's tables ({Output}); writing all of them instead")]
    private partial void LogChangeRefused(string output);

    [LoggerMessage(EventId = 4042, Level = LogLevel.Information, Message = "nftables proxy: {Ports} service ports outgrew {Shards} shard tables; writing all tables again with more shards")]
    private partial void LogOutgrown(int ports, int shards);
}
