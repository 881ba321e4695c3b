using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Orchestration.Dns.Wire;

namespace Orchestration.Dns.Forwarding;

/// <summary>
/// Asks the upstream resolvers about names outside the cluster: over UDP from one socket per address
/// family (random transaction ids; an answer counts only from the server asked and for the question
/// asked), over TCP when the answer comes back truncated, each server in turn until one answers.
/// Answers are cached; concurrent questions for the same name share one upstream query.
/// </summary>
internal sealed partial class UpstreamResolver : IAsyncDisposable
{
    private const int UpstreamPayloadSize = 1232;

    // Well below the 65,536 transaction ids, so a free one is found at the first or second draw.
    private const int MaxPendingQueries = 16_384;

    private readonly IPEndPoint[] _servers;
    private readonly TimeSpan _timeout;
    private readonly IDnsSocketFactory _socketFactory;
    private readonly UpstreamCache? _cache;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ushort, PendingQuery> _pending = new();
    private readonly ConcurrentDictionary<CacheKey, Task<byte[]?>> _inflight = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _receivers = [];
    private Socket? _v4;
    private Socket? _v6;

    public UpstreamResolver(IEnumerable<IPEndPoint> servers, TimeSpan timeout, IDnsSocketFactory socketFactory, UpstreamCache? cache, TimeProvider timeProvider, ILogger logger)
    {
        _servers = [.. servers];
        _timeout = timeout;
        _socketFactory = socketFactory;
        _cache = cache;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Creates the UDP sockets (through the factory, so they live in its network namespace) and starts reading answers.</summary>
    public void Start()
    {
        if (_servers.Any(s => s.AddressFamily == AddressFamily.InterNetwork))
        {
            _v4 = Open(AddressFamily.InterNetwork, IPAddress.Any);
        }

        if (_servers.Any(s => s.AddressFamily == AddressFamily.InterNetworkV6))
        {
            _v6 = Open(AddressFamily.InterNetworkV6, IPAddress.IPv6Any);
        }
    }

    /// <summary>
    /// The upstream answer to a question, as a fresh message whose TTLs have aged with the cache; null
    /// when no upstream answered (timeouts, errors, or SERVFAIL/REFUSED from every one).
    /// </summary>
    public async ValueTask<DnsMessage?> ResolveAsync(DomainName name, RecordType type, RecordClass recordClass, CancellationToken cancellationToken)
    {
        var key = new CacheKey(name.ToString(false).ToLowerInvariant(), type, recordClass);
        if (_cache is not null && _cache.TryGet(key, out var cached, out var age))
        {
            return Materialize(cached!.Message, age);
        }

        var completion = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _inflight.GetOrAdd(key, completion.Task);
        if (shared == completion.Task)
        {
            _ = FetchAsync(key, name, type, recordClass, completion);
        }

        var message = await shared.WaitAsync(cancellationToken).ConfigureAwait(false);
        return message is null ? null : Materialize(message, 0);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _v4?.Dispose();
        _v6?.Dispose();
        foreach (var pending in _pending.Values)
        {
            pending.Completion.TrySetCanceled();
        }

        await Task.WhenAll(_receivers).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private static DnsMessage Materialize(byte[] message, int ageSeconds)
    {
        var parsed = DnsMessage.Parse(message);
        if (ageSeconds > 0)
        {
            foreach (var record in parsed.AnswerRecords.Concat(parsed.AuthorityRecords).Concat(parsed.AdditionalRecords))
            {
                if (record.RecordType != RecordType.Opt)
                {
                    DnsWire.SetTimeToLive(record, Math.Max(0, record.TimeToLive - ageSeconds));
                }
            }
        }

        return parsed;
    }

    private async Task FetchAsync(CacheKey key, DomainName name, RecordType type, RecordClass recordClass, TaskCompletionSource<byte[]?> completion)
    {
        byte[]? result = null;
        try
        {
            var answer = await QueryServersAsync(name, type, recordClass).ConfigureAwait(false);
            if (answer is { } found)
            {
                result = found.Message;
                _cache?.Add(key, found.Message, found.Parsed);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            // The cache holds the answer before the shared query goes, so no question in between asks upstream again.
            _inflight.TryRemove(new KeyValuePair<CacheKey, Task<byte[]?>>(key, completion.Task));
            completion.TrySetResult(result);
        }
    }

    private async Task<(byte[] Message, DnsMessage Parsed)?> QueryServersAsync(DomainName name, RecordType type, RecordClass recordClass)
    {
        foreach (var server in _servers)
        {
            if (_stopping.IsCancellationRequested)
            {
                return null;
            }

            try
            {
                var answer = await QueryUdpAsync(server, name, type, recordClass).ConfigureAwait(false);
                if (answer is null)
                {
                    LogUpstreamTimeout(server, name.ToString(), type);
                    continue;
                }

                if (answer.Value.Parsed.IsTruncated)
                {
                    answer = await QueryTcpAsync(server, name, type, recordClass).ConfigureAwait(false);
                    if (answer is null)
                    {
                        LogUpstreamTimeout(server, name.ToString(), type);
                        continue;
                    }
                }

                var code = answer.Value.Parsed.ReturnCode;
                if (code is not (ReturnCode.NoError or ReturnCode.NxDomain))
                {
                    LogUpstreamFailed(server, name.ToString(), type, code);
                    continue;
                }

                return answer;
            }
            catch (Exception e) when (e is SocketException or IOException or FormatException or ArgumentException or IndexOutOfRangeException)
            {
                LogUpstreamError(server, name.ToString(), type, e.Message);
            }
        }

        return null;
    }

    private async Task<(byte[] Message, DnsMessage Parsed)?> QueryUdpAsync(IPEndPoint server, DomainName name, RecordType type, RecordClass recordClass)
    {
        var socket = (server.AddressFamily == AddressFamily.InterNetwork ? _v4 : _v6) ?? throw new InvalidOperationException("The upstream resolver is not started");
        if (_pending.Count >= MaxPendingQueries)
        {
            return null;
        }

        var pending = new PendingQuery(server, new DnsQuestion(name, type, recordClass));
        ushort id;
        do
        {
            id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        }
        while (!_pending.TryAdd(id, pending));

        try
        {
            var query = Query(id, pending.Question);
            await socket.SendToAsync(query.ToArraySegment(false), SocketFlags.None, server, _stopping.Token).ConfigureAwait(false);
            return await pending.Completion.Task.WaitAsync(_timeout, _timeProvider, _stopping.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private async Task<(byte[] Message, DnsMessage Parsed)?> QueryTcpAsync(IPEndPoint server, DomainName name, RecordType type, RecordClass recordClass)
    {
        var question = new DnsQuestion(name, type, recordClass);
        var id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        using var socket = _socketFactory.Create(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp, DnsSocketRole.Upstream);
        using var timeout = new CancellationTokenSource(_timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, _stopping.Token);
        try
        {
            await socket.ConnectAsync(server, linked.Token).ConfigureAwait(false);
            await socket.SendAsync(Query(id, question).ToArraySegment(true), SocketFlags.None, linked.Token).ConfigureAwait(false);
            var prefix = new byte[2];
            await ReadExactlyAsync(socket, prefix, linked.Token).ConfigureAwait(false);
            var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
            await ReadExactlyAsync(socket, message, linked.Token).ConfigureAwait(false);
            var parsed = DnsMessage.Parse(message);
            return parsed.TransactionID == id && Answers(parsed, question) ? (message, parsed) : null;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return null;
        }
    }

    private static async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                throw new IOException("The upstream closed the connection before its answer was complete");
            }

            buffer = buffer[received..];
        }
    }

    private static DnsRawPackage Query(ushort id, DnsQuestion question)
    {
        var query = new DnsMessage { TransactionID = id, IsRecursionDesired = true };
        query.Questions.Add(question);
        query.EDnsOptions = new OptRecord(UpstreamPayloadSize);
        return DnsWire.Encode(query);
    }

    private static bool Answers(DnsMessage response, DnsQuestion question) =>
        !response.IsQuery && response.Questions.Count == 1 &&
        response.Questions[0].RecordType == question.RecordType && response.Questions[0].RecordClass == question.RecordClass &&
        response.Questions[0].Name.Equals(question.Name);

    private Socket Open(AddressFamily family, IPAddress any)
    {
        var socket = _socketFactory.Create(family, SocketType.Dgram, ProtocolType.Udp, DnsSocketRole.Upstream);
        try
        {
            socket.Bind(new IPEndPoint(any, 0));
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _receivers.Add(Task.Run(() => ReceiveAsync(socket, any)));
        return socket;
    }

    private async Task ReceiveAsync(Socket socket, IPAddress any)
    {
        var buffer = new byte[ushort.MaxValue];
        EndPoint anyEndPoint = new IPEndPoint(any, 0);
        while (!_stopping.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, anyEndPoint, _stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_stopping.IsCancellationRequested || e.SocketErrorCode == SocketError.OperationAborted)
                {
                    return;
                }

                continue;
            }

            if (!DnsWire.TryReadHeader(buffer.AsSpan(0, received.ReceivedBytes), out var id, out _) ||
                !_pending.TryGetValue(id, out var pending) || !pending.Server.Equals(received.RemoteEndPoint))
            {
                continue;
            }

            var message = buffer.AsSpan(0, received.ReceivedBytes).ToArray();
            DnsMessage parsed;
            try
            {
                parsed = DnsMessage.Parse(message);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                continue;
            }

            if (Answers(parsed, pending.Question))
            {
                pending.Completion.TrySetResult((message, parsed));
            }
        }
    }

    [LoggerMessage(EventId = 5030, Level = LogLevel.Debug, Message = "Upstream {Upstream} did not answer {Name} {Type} in time")]
    private partial void LogUpstreamTimeout(IPEndPoint upstream, string name, RecordType type);

    [LoggerMessage(EventId = 5031, Level = LogLevel.Debug, Message = "Upstream {Upstream} answered {Name} {Type} with {ReturnCode}; trying the next one")]
    private partial void LogUpstreamFailed(IPEndPoint upstream, string name, RecordType type, ReturnCode returnCode);

    [LoggerMessage(EventId = 5032, Level = LogLevel.Debug, Message = "Upstream {Upstream} failed for {Name} {Type}: {Error}")]
    private partial void LogUpstreamError(IPEndPoint upstream, string name, RecordType type, string error);

    private sealed class PendingQuery(IPEndPoint server, DnsQuestion question)
    {
        public IPEndPoint Server { get; } = server;

        public DnsQuestion Question { get; } = question;

        public TaskCompletionSource<(byte[] Message, DnsMessage Parsed)?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
