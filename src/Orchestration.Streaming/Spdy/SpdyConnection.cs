using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Threading.Channels;
using ICSharpCode.SharpZipLib.Zip.Compression;

namespace Orchestration.Streaming.Spdy;

/// <summary>
/// One end of a SPDY/3.1 session, as far as Kubernetes' stream protocols need it. Either end opens
/// streams (SYN_STREAM with headers such as <c>streamtype</c>); the other end's streams arrive in
/// <see cref="Accepted"/> and are acknowledged (SYN_REPLY). Data frames carry the bytes, a FIN
/// half-closes a stream. Header blocks go out zlib-compressed, one compression context per session,
/// flushed per frame; incoming ones are inflated with SPDY's preset dictionary. The API server uses it
/// as a client towards node agents (kubectl's WebSocket exec), node agents as a server towards kubectl
/// when their runtime has no streaming server of its own.
/// </summary>
public sealed class SpdyConnection : IAsyncDisposable
{
    private const ushort Version = 3;
    private const ushort SynStream = 1;
    private const ushort SynReply = 2;
    private const ushort RstStream = 3;
    private const ushort Ping = 6;
    private const ushort GoAway = 7;
    private const ushort WindowUpdate = 9;
    private const byte FlagFin = 0x01;

    private readonly Stream _transport;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly MemoryStream _compressed = new();
    private readonly ZLibStream _compressor;
    private readonly Inflater _inflater = new();
    private readonly Dictionary<uint, SpdyStream> _streams = [];
    private readonly Channel<SpdyStream> _accepted = Channel.CreateUnbounded<SpdyStream>();
    private uint _nextStreamId;

    /// <summary>Starts a session over an upgraded connection.</summary>
    /// <param name="transport">The connection.</param>
    /// <param name="isServer">Whether this end answered the upgrade (its own streams get even ids, the client's odd).</param>
    public SpdyConnection(Stream transport, bool isServer)
    {
        _transport = transport;
        _nextStreamId = isServer ? 2u : 1u;
        _compressor = new ZLibStream(_compressed, CompressionLevel.Fastest, leaveOpen: true);
    }

    /// <summary>The streams the other end opens, with their headers.</summary>
    public ChannelReader<SpdyStream> Accepted => _accepted.Reader;

    /// <summary>Opens a stream with the given headers (names lowercase, as SPDY wants them).</summary>
    public async Task<SpdyStream> OpenStreamAsync(IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(headers);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var id = _nextStreamId;
            _nextStreamId += 2;
            var stream = new SpdyStream(this, id, headers);
            lock (_streams)
            {
                _streams[id] = stream;
            }

            var block = Compress(headers);
            var frame = new byte[8 + 10 + block.Length];
            WriteControlHeader(frame, SynStream, 0, 10 + block.Length);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), id);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 0);
            block.CopyTo(frame.AsSpan(18)); // bytes 16-17: priority and slot, both 0
            await _transport.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await _transport.FlushAsync(cancellationToken).ConfigureAwait(false);
            return stream;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Reads frames until the other end closes the session, handing data to the streams.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var header = new byte[8];
        try
        {
            while (await ReadExactlyOrEndAsync(header, cancellationToken).ConfigureAwait(false))
            {
                var flags = header[4];
                var length = (header[5] << 16) | (header[6] << 8) | header[7];
                var payload = new byte[length];
                await _transport.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
                if ((header[0] & 0x80) == 0)
                {
                    var id = BinaryPrimitives.ReadUInt32BigEndian(header) & 0x7fffffff;
                    var stream = Find(id);
                    if (stream is not null)
                    {
                        if (length > 0)
                        {
                            stream.Received.Writer.TryWrite(payload);
                            await SendWindowUpdateAsync(id, length, cancellationToken).ConfigureAwait(false);
                        }

                        if ((flags & FlagFin) != 0)
                        {
                            stream.Received.Writer.TryComplete();
                        }
                    }

                    continue;
                }

                var type = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
                switch (type)
                {
                    case SynStream:
                        await AcceptAsync(flags, payload, cancellationToken).ConfigureAwait(false);
                        break;
                    case SynReply when (flags & FlagFin) != 0:
                        Find(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff)?.Received.Writer.TryComplete();
                        break;
                    case RstStream:
                        Find(BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff)?.Received.Writer.TryComplete();
                        break;
                    case Ping:
                        await SendControlAsync(Ping, 0, payload, cancellationToken).ConfigureAwait(false);
                        break;
                    case GoAway:
                        return;
                    default:
                        // SETTINGS, WINDOW_UPDATE, HEADERS, replies: nothing these protocols act on.
                        break;
                }
            }
        }
        finally
        {
            _accepted.Writer.TryComplete();
            lock (_streams)
            {
                foreach (var stream in _streams.Values)
                {
                    stream.Received.Writer.TryComplete();
                }
            }
        }
    }

    /// <summary>Sends data on a stream; <paramref name="fin"/> half-closes it.</summary>
    internal async Task SendDataAsync(uint id, ReadOnlyMemory<byte> data, bool fin, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var frame = new byte[8 + data.Length];
            BinaryPrimitives.WriteUInt32BigEndian(frame, id & 0x7fffffff);
            frame[4] = fin ? FlagFin : (byte)0;
            frame[5] = (byte)(data.Length >> 16);
            frame[6] = (byte)(data.Length >> 8);
            frame[7] = (byte)data.Length;
            data.CopyTo(frame.AsMemory(8));
            await _transport.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await _transport.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _transport.DisposeAsync().ConfigureAwait(false);
        await _compressor.DisposeAsync().ConfigureAwait(false);
        _writeLock.Dispose();
    }

    /// <summary>The other end opened a stream: note its headers and acknowledge it, as spdystream's peers wait for.</summary>
    private async Task AcceptAsync(byte flags, byte[] payload, CancellationToken cancellationToken)
    {
        var id = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7fffffff;
        var headers = Inflate(payload.AsSpan(10));
        var stream = new SpdyStream(this, id, headers);
        lock (_streams)
        {
            _streams[id] = stream;
        }

        if ((flags & FlagFin) != 0)
        {
            stream.Received.Writer.TryComplete();
        }

        var block = Compress(new Dictionary<string, string>());
        var reply = new byte[4 + block.Length];
        BinaryPrimitives.WriteUInt32BigEndian(reply, id);
        block.CopyTo(reply, 4);
        await SendControlAsync(SynReply, 0, reply, cancellationToken).ConfigureAwait(false);
        _accepted.Writer.TryWrite(stream);
    }

    private SpdyStream? Find(uint id)
    {
        lock (_streams)
        {
            return _streams.GetValueOrDefault(id);
        }
    }

    // The other end may count its windows: hand back what was read, for the stream and for the session.
    private async Task SendWindowUpdateAsync(uint id, int length, CancellationToken cancellationToken)
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(payload, id);
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(4), (uint)length);
        await SendControlAsync(WindowUpdate, 0, payload, cancellationToken).ConfigureAwait(false);
        BinaryPrimitives.WriteUInt32BigEndian(payload, 0);
        await SendControlAsync(WindowUpdate, 0, payload, cancellationToken).ConfigureAwait(false);
    }

    private async Task SendControlAsync(ushort type, byte flags, byte[] payload, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var frame = new byte[8 + payload.Length];
            WriteControlHeader(frame, type, flags, payload.Length);
            payload.CopyTo(frame, 8);
            await _transport.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await _transport.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static void WriteControlHeader(Span<byte> frame, ushort type, byte flags, int length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(0x8000 | Version));
        BinaryPrimitives.WriteUInt16BigEndian(frame[2..], type);
        frame[4] = flags;
        frame[5] = (byte)(length >> 16);
        frame[6] = (byte)(length >> 8);
        frame[7] = (byte)length;
    }

    /// <summary>A header block: a count, then each name and value with its length, all big-endian, compressed.</summary>
    private byte[] Compress(IReadOnlyDictionary<string, string> headers)
    {
        using var raw = new MemoryStream();
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(number, headers.Count);
        raw.Write(number);
        foreach (var (name, value) in headers)
        {
            foreach (var text in new[] { name, value })
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                BinaryPrimitives.WriteInt32BigEndian(number, bytes.Length);
                raw.Write(number);
                raw.Write(bytes);
            }
        }

        var start = _compressed.Length;
        _compressor.Write(raw.GetBuffer(), 0, (int)raw.Length);

        // A sync flush ends the block on a byte boundary while the context carries on to the next frame.
        _compressor.Flush();
        return _compressed.GetBuffer().AsSpan((int)start, (int)(_compressed.Length - start)).ToArray();
    }

    /// <summary>Inflates one header block (the session's zlib stream goes on across blocks) and reads its pairs.</summary>
    private Dictionary<string, string> Inflate(ReadOnlySpan<byte> block)
    {
        _inflater.SetInput(block.ToArray());
        using var raw = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            var count = _inflater.Inflate(buffer);
            if (count > 0)
            {
                raw.Write(buffer, 0, count);
                continue;
            }

            if (_inflater.IsNeedingDictionary)
            {
                _inflater.SetDictionary(SpdyDictionary.Bytes);
                continue;
            }

            break;
        }

        var bytes = raw.ToArray();
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (bytes.Length < 4)
        {
            return headers;
        }

        var pairs = BinaryPrimitives.ReadInt32BigEndian(bytes);
        var at = 4;
        for (var i = 0; i < pairs && at + 4 <= bytes.Length; i++)
        {
            var name = ReadString(bytes, ref at);
            var value = ReadString(bytes, ref at);
            headers[name] = value;
        }

        return headers;
    }

    private static string ReadString(byte[] bytes, ref int at)
    {
        var length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at));
        at += 4;
        var text = Encoding.UTF8.GetString(bytes, at, Math.Min(length, bytes.Length - at));
        at += length;
        return text;
    }

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var got = await _transport.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                return false;
            }

            read += got;
        }

        return true;
    }
}

/// <summary>One stream of a <see cref="SpdyConnection"/>.</summary>
public sealed class SpdyStream
{
    private readonly SpdyConnection _connection;

    internal SpdyStream(SpdyConnection connection, uint id, IReadOnlyDictionary<string, string> headers)
    {
        _connection = connection;
        Id = id;
        Headers = headers;
    }

    /// <summary>The stream's id.</summary>
    public uint Id { get; }

    /// <summary>The headers it was opened with.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The data the other end sends on it, completed at its FIN.</summary>
    public Channel<byte[]> Received { get; } = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Sends data.</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => _connection.SendDataAsync(Id, data, fin: false, cancellationToken);

    /// <summary>Half-closes: the other end reads the end of this stream.</summary>
    public Task CloseAsync(CancellationToken cancellationToken) => _connection.SendDataAsync(Id, ReadOnlyMemory<byte>.Empty, fin: true, cancellationToken);
}
