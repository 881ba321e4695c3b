using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Orchestration.NodeAgent.Server;

/// <summary>What part of a container's log to send, as <c>pods/log</c>'s query asks.</summary>
/// <param name="Follow">Keep sending what the container writes until it stops.</param>
/// <param name="TailLines">Only the last this many lines (of what the other options select).</param>
/// <param name="Timestamps">Start each line with its RFC 3339 time.</param>
/// <param name="Since">Only lines written at or after this time.</param>
/// <param name="LimitBytes">Stop after this many bytes.</param>
public sealed record LogOptions(bool Follow = false, long? TailLines = null, bool Timestamps = false, DateTimeOffset? Since = null, long? LimitBytes = null);

/// <summary>
/// Reads a container log file in the CRI format that containerd writes, one record per line:
/// <c>2016-10-06T00:17:09.669794202Z stdout F text</c>, where the tag <c>P</c> marks a piece of a
/// longer line that the next records complete and <c>F</c> its end. Docker's json-file driver writes
/// <c>{"log":"text\n","stream":"stdout","time":"..."}</c> instead, where a log without its closing
/// newline is such a piece; each line is read in whichever of the two forms it is. The node agent
/// serves logs from these files, as kubelet does, so logs outlive the container process.
/// </summary>
public static class ContainerLogReader
{
    /// <summary>How often a followed log is checked for more lines.</summary>
    private static readonly TimeSpan FollowPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Writes the selected lines of <paramref name="path"/> to <paramref name="output"/>. When
    /// following, waits for more until <paramref name="stillRunning"/> says the container stopped
    /// and the file holds nothing new, or the caller cancels.
    /// </summary>
    public static async Task CopyAsync(string path, LogOptions options, Stream output, Func<CancellationToken, Task<bool>> stillRunning, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(stillRunning);
        var budget = options.LimitBytes ?? long.MaxValue;
        await using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, Options = FileOptions.Asynchronous });
        var reader = new LineReader(file);

        // The tail is chosen among the lines the time filter keeps; everything before it is skipped.
        long skip = 0;
        if (options.TailLines is { } tail)
        {
            long total = 0;
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } counted)
            {
                if (Parse(counted) is { } entry && Selected(entry, options))
                {
                    total++;
                }
            }

            skip = Math.Max(0, total - Math.Max(0, tail));
            file.Position = 0;
            reader = new LineReader(file);
        }

        var atLineStart = true;
        var idleSince = (DateTimeOffset?)null;
        while (budget > 0)
        {
            var line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null)
            {
                if (!options.Follow)
                {
                    return;
                }

                await output.FlushAsync(cancellationToken).ConfigureAwait(false);

                // A stopped container writes no more: once its file stays at its end, the follow is over.
                var now = timeProvider.GetUtcNow();
                idleSince ??= now;
                if (now - idleSince >= TimeSpan.FromMilliseconds(500))
                {
                    if (!await stillRunning(cancellationToken).ConfigureAwait(false) && await reader.AtEndAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return;
                    }

                    idleSince = now;
                }

                await Task.Delay(FollowPoll, timeProvider, cancellationToken).ConfigureAwait(false);
                continue;
            }

            idleSince = null;
            if (Parse(line) is not { } record || !Selected(record, options))
            {
                continue;
            }

            if (skip > 0)
            {
                skip--;
                continue;
            }

            if (options.Timestamps && atLineStart)
            {
                budget -= await WriteAsync(output, Encoding.ASCII.GetBytes(record.Timestamp + " "), budget, cancellationToken).ConfigureAwait(false);
            }

            budget -= await WriteAsync(output, record.Content, budget, cancellationToken).ConfigureAwait(false);
            if (!record.Partial)
            {
                budget -= await WriteAsync(output, "\n"u8.ToArray(), budget, cancellationToken).ConfigureAwait(false);
            }

            atLineStart = !record.Partial;
        }

        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static bool Selected(LogRecord record, LogOptions options) => options.Since is not { } since || record.Time >= since;

    private static async Task<long> WriteAsync(Stream output, ReadOnlyMemory<byte> bytes, long budget, CancellationToken cancellationToken)
    {
        var length = (int)Math.Min(bytes.Length, budget);
        await output.WriteAsync(bytes[..length], cancellationToken).ConfigureAwait(false);
        return length;
    }

    /// <summary>One record of a CRI or json-file log, or null for a line that is neither.</summary>
    internal static LogRecord? Parse(byte[] line)
    {
        // A CRI line starts with its timestamp, a json-file one with its object.
        if (line.Length > 0 && line[0] == (byte)'{')
        {
            return ParseJson(line);
        }

        var span = line.AsSpan();
        var first = span.IndexOf((byte)' ');
        if (first <= 0)
        {
            return null;
        }

        var timestamp = Encoding.ASCII.GetString(span[..first]);
        if (!DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return null;
        }

        var rest = span[(first + 1)..];
        var second = rest.IndexOf((byte)' ');
        if (second <= 0)
        {
            return null;
        }

        rest = rest[(second + 1)..];
        var third = rest.IndexOf((byte)' ');
        var tag = third < 0 ? rest : rest[..third];
        var content = third < 0 ? [] : rest[(third + 1)..].ToArray();
        return new LogRecord(timestamp, time, tag.IndexOf((byte)'P') >= 0, content);
    }

    private static LogRecord? ParseJson(byte[] line)
    {
        string? log = null;
        string? timestamp = null;
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                if (!reader.Read())
                {
                    return null;
                }

                if (name == "log" && reader.TokenType == JsonTokenType.String)
                {
                    log = reader.GetString();
                }
                else if (name == "time" && reader.TokenType == JsonTokenType.String)
                {
                    timestamp = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        if (log is null || timestamp is null || !DateTimeOffset.TryParse(timestamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
        {
            return null;
        }

        var partial = !log.EndsWith('\n');
        return new LogRecord(timestamp, time, partial, Encoding.UTF8.GetBytes(partial ? log : log[..^1]));
    }

    internal sealed record LogRecord(string Timestamp, DateTimeOffset Time, bool Partial, byte[] Content);

    /// <summary>Whole lines of a file that may still grow: a line without its newline yet is left for later.</summary>
    private sealed class LineReader(FileStream file)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private readonly MemoryStream _pending = new();
        private int _start;
        private int _end;

        public async Task<byte[]?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    _pending.Write(_buffer, _start, newline - _start);
                    _start = newline + 1;
                    var line = _pending.ToArray();
                    _pending.SetLength(0);
                    return line;
                }

                _pending.Write(_buffer, _start, _end - _start);
                _start = _end = 0;
                var read = await file.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return null;
                }

                _end = read;
            }
        }

        /// <summary>Whether nothing more is written after the last whole line (a stopped writer may leave a piece unterminated).</summary>
        public async Task<bool> AtEndAsync(CancellationToken cancellationToken)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            return file.Position >= file.Length;
        }
    }
}
