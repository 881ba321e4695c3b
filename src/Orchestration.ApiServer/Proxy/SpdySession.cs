using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Threading.Channels;

namespace Orchestration.ApiServer.Proxy;

/// <summary>
/// The client end of a SPDY/3.1 session, as far as Kubernetes' stream protocols need it: the client
/// opens streams (SYN_STREAM with a <c>streamtype</c> header), sends data with a FIN to half-close,
/// and reads what the server sends back on each. Header blocks go out zlib-compressed, one
/// compression context for the session, flushed per frame; the server's header blocks (SYN_REPLY)
/// only acknowledge a stream and are never read. The API server speaks it to the node to serve
/// kubectl's WebSocket exec, as kube-apiserver translates WebSocket to SPDY.
/// </summary>
internal sealed class SpdySession : IAsyncDisposable
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
    private readonly Dictionary<uint, SpdyStream> _streams = [];
    private uint _nextStreamId = 1;

    public SpdySession(Stream transport)
    {
        _transport = transport;
        _compressor = new ZLibStream(_compressed, CompressionLevel.Fastest, leaveOpen: true);
    }

    /// <summary>Opens a stream with the given headers (names lowercase, as SPDY wants them).</summary>
    public async Task<SpdyStream> OpenStreamAsync(IReadOnlyDictionary<string, string> headers, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var id = _nextStreamId;
            _nextStreamId += 2;
            var stream = new SpdyStream(this, id);
            lock (_streams)
            {
                _streams[id] = stream;
            }

            var block = Compress(headers);
            var frame = new byte[8 + 10 + block.Length];
            WriteControlHeader(frame, SynStream, 0, 10 + block.Length);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), id);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 0);
            frame[16] = 0; // priority 0, slot 0
            frame[17] = 0;
            block.CopyTo(frame.AsSpan(18));
            await _transport.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await _transport.FlushAsync(cancellationToken).ConfigureAwait(false);
            return stream;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Reads frames until the server closes the session, handing data to the streams.</summary>
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
                        // SETTINGS, WINDOW_UPDATE, HEADERS and replies: nothing this client acts on.
                        break;
                }
            }
        }
        finally
        {
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

    public async ValueTask DisposeAsync()
    {
        await _transport.DisposeAsync().ConfigureAwait(false);
        await _compressor.DisposeAsync().ConfigureAwait(false);
        _writeLock.Dispose();
    }

    private SpdyStream? Find(uint id)
    {
        lock (_streams)
        {
            return _streams.GetValueOrDefault(id);
        }
    }

    // The server may count its windows: hand back what was read, for the stream and for the session.
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
        var block = _compressed.GetBuffer().AsSpan((int)start, (int)(_compressed.Length - start)).ToArray();
        return block;
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

/// <summary>One stream of a <see cref="SpdySession"/>.</summary>
internal sealed class SpdyStream(SpdySession session, uint id)
{
    /// <summary>The data the server sends on it, completed at its FIN.</summary>
    public Channel<byte[]> Received { get; } = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Sends data.</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => session.SendDataAsync(id, data, fin: false, cancellationToken);

    /// <summary>Half-closes: the server reads the end of this stream.</summary>
    public Task CloseAsync(CancellationToken cancellationToken) => session.SendDataAsync(id, ReadOnlyMemory<byte>.Empty, fin: true, cancellationToken);
}
