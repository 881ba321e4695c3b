using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using ARSoft.Tools.Net.Dns;

namespace Orchestration.Dns.Wire;

/// <summary>
/// The DNS wire format, through ARSoft.Tools.Net's message model. ARSoft encodes messages only inside
/// its own server and client pipelines (<c>DnsMessageBase.Encode</c> is internal, as is the setter of
/// a record's TTL), while this server runs its own socket loops: both are reached with
/// <see cref="UnsafeAccessorAttribute"/> against the pinned package version, and the tests fail if a
/// new version moves them.
/// </summary>
internal static class DnsWire
{
    /// <summary>The size of the DNS header.</summary>
    public const int HeaderSize = 12;

    /// <summary>
    /// The longest query accepted, over UDP or TCP. A query is one question and an OPT record (a few
    /// hundred bytes even padded); anything longer is not a query this server answers.
    /// </summary>
    public const int MaxQuerySize = 4096;

    /// <summary>How far into a message a compression pointer reaches (14 bits of offset).</summary>
    private const int CompressionReach = 0x4000;

    /// <summary>What a client without EDNS may be sent over UDP (RFC 1035).</summary>
    public const int ClassicUdpSize = 512;

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Encode")]
    private static extern DnsRawPackage EncodeMessage(DnsMessageBase message);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "set_TimeToLive")]
    private static extern void SetTimeToLiveCore(DnsRecordBase record, int value);

    /// <summary>Encodes a message; the package carries the TCP length prefix in front of the message.</summary>
    public static DnsRawPackage Encode(DnsMessage message) => EncodeMessage(message);

    /// <summary>Changes a record's TTL (an answer served from the cache ages).</summary>
    public static void SetTimeToLive(DnsRecordBase record, int seconds) => SetTimeToLiveCore(record, seconds);

    /// <summary>The transaction id and flags of a message at least a header long.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> message, out ushort id, out ushort flags)
    {
        if (message.Length < HeaderSize)
        {
            id = flags = 0;
            return false;
        }

        id = BinaryPrimitives.ReadUInt16BigEndian(message);
        flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        return true;
    }

    /// <summary>Whether the flags are a response's (QR set): such messages are never answered, so two servers cannot loop.</summary>
    public static bool IsResponse(ushort flags) => (flags & 0x8000) != 0;

    /// <summary>The operation code in the flags.</summary>
    public static int OperationCode(ushort flags) => (flags >> 11) & 0xF;

    /// <summary>
    /// A response of a header only (no sections) to a query that cannot be read further or is not
    /// served: its id, operation code and RD bit echoed, with <paramref name="returnCode"/>.
    /// </summary>
    public static DnsRawPackage HeaderOnly(ushort id, ushort queryFlags, ReturnCode returnCode)
    {
        var buffer = new byte[DnsRawPackage.LENGTH_HEADER_LENGTH + HeaderSize];
        BinaryPrimitives.WriteUInt16BigEndian(buffer, HeaderSize);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), id);
        var flags = (ushort)(0x8000 | (queryFlags & 0x7800) | (queryFlags & 0x0100) | ((int)returnCode & 0xF));
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(4), flags);
        return new DnsRawPackage(buffer);
    }

    /// <summary>
    /// Encodes a response so it fits in <paramref name="maxSize"/> bytes. The additional section goes
    /// first (it is a courtesy: no TC for it, RFC 2181 9); if the rest is still too large, TC is set
    /// and the authority section and then as many answers as needed are left out, so the client
    /// retries over TCP.
    /// </summary>
    /// <remarks>
    /// A compression pointer holds a 14-bit offset, but ARSoft's encoder also points at names it
    /// wrote past 16 KiB, which corrupts the message. A response that large (TCP only) is decoded
    /// again and compared: when it differs, the additional section goes, and if that is not enough
    /// the response is cut to 16 KiB.
    /// </remarks>
    public static DnsRawPackage EncodeToFit(DnsMessage response, int maxSize)
    {
        var package = Fit(response, maxSize);
        if (package.Length <= CompressionReach || DecodesAs(package, response))
        {
            return package;
        }

        var opt = response.EDnsOptions;
        response.AdditionalRecords = opt is null ? [] : [opt];
        package = Fit(response, maxSize);
        return package.Length <= CompressionReach || DecodesAs(package, response) ? package : Fit(response, CompressionReach);
    }

    private static bool DecodesAs(DnsRawPackage package, DnsMessage response)
    {
        try
        {
            var decoded = DnsMessage.Parse(package.ToArraySegment(false));
            return decoded.AnswerRecords.SequenceEqual(response.AnswerRecords) &&
                decoded.AuthorityRecords.SequenceEqual(response.AuthorityRecords) &&
                decoded.AdditionalRecords.Where(r => r.RecordType != RecordType.Opt).SequenceEqual(response.AdditionalRecords.Where(r => r.RecordType != RecordType.Opt));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;
        }
    }

    private static DnsRawPackage Fit(DnsMessage response, int maxSize)
    {
        var package = Encode(response);
        if (package.Length <= maxSize)
        {
            return package;
        }

        var opt = response.EDnsOptions;
        response.AdditionalRecords = opt is null ? [] : [opt];
        package = Encode(response);
        if (package.Length <= maxSize)
        {
            return package;
        }

        response.IsTruncated = true;
        response.AuthorityRecords = [];
        var answers = response.AnswerRecords;
        var low = 0;
        var high = answers.Count;
        DnsRawPackage? best = null;
        while (low <= high)
        {
            var count = (low + high) / 2;
            response.AnswerRecords = answers.GetRange(0, count);
            var candidate = Encode(response);
            if (candidate.Length <= maxSize)
            {
                best = candidate;
                low = count + 1;
            }
            else
            {
                high = count - 1;
            }
        }

        if (best is not null)
        {
            return best;
        }

        // A question that alone does not fit (a 255-byte name in 512 bytes is impossible, but the
        // OPT record counts too): send the header only, truncated.
        response.AnswerRecords = [];
        response.AdditionalRecords = [];
        return Encode(response);
    }
}
