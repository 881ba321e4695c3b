using ARSoft.Tools.Net.Dns;
using Microsoft.Extensions.Logging;
using Orchestration.Dns.Forwarding;
using Orchestration.Dns.Wire;
using Orchestration.Dns.Zone;

namespace Orchestration.Dns.Transport;

/// <summary>
/// Turns one query into its response, whatever carried it: names of the cluster from the zone,
/// others from the upstreams; malformed queries get FORMERR when their header can be read and
/// nothing otherwise. Answers from the zone are computed synchronously, so the UDP loop sends them
/// without a task switch; only forwarded questions go asynchronous.
/// </summary>
internal sealed partial class DnsQueryHandler(ClusterDnsZone zone, UpstreamResolver? upstream, int maxUdpPayloadSize, ILogger logger)
{
    /// <summary>The largest response a TCP frame can carry.</summary>
    public const int MaxTcpResponseSize = ushort.MaxValue;

    /// <summary>How many questions may wait for upstreams at once.</summary>
    public const int MaxConcurrentForwards = 10_000;

    private int _forwarding;

    /// <summary>
    /// The response to a query, or null when it gets none (not a query, or too short to have a header).
    /// The query buffer is read before this returns and not after, so the caller may reuse it at once.
    /// </summary>
    public ValueTask<DnsRawPackage?> HandleAsync(ArraySegment<byte> query, bool udp, CancellationToken cancellationToken)
    {
        if (!DnsWire.TryReadHeader(query, out var id, out var flags) || DnsWire.IsResponse(flags))
        {
            return ValueTask.FromResult<DnsRawPackage?>(null);
        }

        if (DnsWire.OperationCode(flags) != 0)
        {
            return ValueTask.FromResult<DnsRawPackage?>(DnsWire.HeaderOnly(id, flags, ReturnCode.NotImplemented));
        }

        DnsMessage message;
        try
        {
            message = DnsMessage.Parse(query);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogMalformedQuery(query.Count, e.GetType().Name);
            return ValueTask.FromResult<DnsRawPackage?>(DnsWire.HeaderOnly(id, flags, ReturnCode.FormatError));
        }

        if (message.Questions.Count != 1)
        {
            return ValueTask.FromResult<DnsRawPackage?>(DnsWire.HeaderOnly(id, flags, ReturnCode.FormatError));
        }

        var maxSize = udp ? MaxUdpSize(message) : MaxTcpResponseSize;
        var response = NewResponse(message);
        var question = message.Questions[0];
        if (message.EDnsOptions is { Version: > 0 })
        {
            response.ReturnCode = ReturnCode.BadVersion;
            return Done(response, maxSize);
        }

        if (question.RecordClass is not (RecordClass.INet or RecordClass.Any))
        {
            response.ReturnCode = ReturnCode.Refused;
            return Done(response, maxSize);
        }

        if (question.RecordType is RecordType.Axfr or RecordType.Ixfr or RecordType.Opt)
        {
            response.ReturnCode = ReturnCode.NotImplemented;
            return Done(response, maxSize);
        }

        var answer = zone.Answer(question.Name, question.RecordType);
        if (answer is not null)
        {
            Fill(response, answer);
            if (answer.ExternalTarget is null)
            {
                return Done(response, maxSize);
            }
        }

        if (Interlocked.Increment(ref _forwarding) > MaxConcurrentForwards)
        {
            // Upstreams this far behind: fail fast rather than queue without bound.
            Interlocked.Decrement(ref _forwarding);
            if (answer is null)
            {
                response.ReturnCode = ReturnCode.ServerFailure;
            }

            return Done(response, maxSize);
        }

        return ResolveUpstreamAsync(response, answer, question, maxSize, cancellationToken);
    }

    private async ValueTask<DnsRawPackage?> ResolveUpstreamAsync(DnsMessage response, ZoneAnswer? answer, DnsQuestion question, int maxSize, CancellationToken cancellationToken)
    {
        try
        {
            return await ResolveUpstreamCoreAsync(response, answer, question, maxSize, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _forwarding);
        }
    }

    private async ValueTask<DnsRawPackage?> ResolveUpstreamCoreAsync(DnsMessage response, ZoneAnswer? answer, DnsQuestion question, int maxSize, CancellationToken cancellationToken)
    {
        if (answer?.ExternalTarget is { } target)
        {
            // An ExternalName's CNAME: the target's records follow it when an upstream has them.
            var chased = upstream is null ? null : await upstream.ResolveAsync(target, question.RecordType, question.RecordClass, cancellationToken).ConfigureAwait(false);
            if (chased is not null)
            {
                response.ReturnCode = chased.ReturnCode;
                response.AnswerRecords.AddRange(chased.AnswerRecords);
            }

            return DnsWire.EncodeToFit(response, maxSize);
        }

        var forwarded = upstream is null ? null : await upstream.ResolveAsync(question.Name, question.RecordType, question.RecordClass, cancellationToken).ConfigureAwait(false);
        if (forwarded is null)
        {
            LogNoUpstreamAnswer(question.Name.ToString(), question.RecordType);
            response.ReturnCode = ReturnCode.ServerFailure;
            return DnsWire.EncodeToFit(response, maxSize);
        }

        response.ReturnCode = forwarded.ReturnCode;
        response.AnswerRecords = forwarded.AnswerRecords;
        response.AuthorityRecords = forwarded.AuthorityRecords;
        response.AdditionalRecords.AddRange(forwarded.AdditionalRecords.Where(r => r.RecordType is not (RecordType.Opt or RecordType.TSig)));
        return DnsWire.EncodeToFit(response, maxSize);
    }

    private static ValueTask<DnsRawPackage?> Done(DnsMessage response, int maxSize) =>
        ValueTask.FromResult<DnsRawPackage?>(DnsWire.EncodeToFit(response, maxSize));

    private static void Fill(DnsMessage response, ZoneAnswer answer)
    {
        response.IsAuthoritiveAnswer = true;
        response.ReturnCode = answer.ReturnCode;
        response.AnswerRecords = answer.Answers;
        response.AuthorityRecords = answer.Authority;
        response.AdditionalRecords.AddRange(answer.Additional);
    }

    /// <summary>A response that echoes the query's id, question, RD and CD, with EDNS when the client used it.</summary>
    private DnsMessage NewResponse(DnsMessage query)
    {
        var response = new DnsMessage
        {
            TransactionID = query.TransactionID,
            IsQuery = false,
            IsRecursionDesired = query.IsRecursionDesired,
            IsCheckingDisabled = query.IsCheckingDisabled,
            IsRecursionAllowed = true,
            Questions = query.Questions,
        };
        if (query.IsEDnsEnabled)
        {
            response.EDnsOptions = new OptRecord((ushort)maxUdpPayloadSize);
        }

        return response;
    }

    /// <summary>What the client can take over UDP: 512 bytes, or its EDNS buffer size up to the configured maximum.</summary>
    private int MaxUdpSize(DnsMessage query) =>
        query.EDnsOptions is { } opt ? Math.Clamp(opt.UdpPayloadSize, DnsWire.ClassicUdpSize, maxUdpPayloadSize) : DnsWire.ClassicUdpSize;

    [LoggerMessage(EventId = 5010, Level = LogLevel.Debug, Message = "Malformed query of {Length} bytes ({Error}): answered FORMERR")]
    private partial void LogMalformedQuery(int length, string error);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Debug, Message = "No upstream answered {Name} {Type}: answered SERVFAIL")]
    private partial void LogNoUpstreamAnswer(string name, RecordType type);
}
