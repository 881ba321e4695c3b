using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Orchestration.Dns.Wire;

namespace Orchestration.Dns.Tests;

/// <summary>The ARSoft internals the server reaches (encoding, TTLs) still exist in the pinned version, and truncation keeps to the limit.</summary>
[Trait("Category", "Unit")]
public sealed class DnsWireTests
{
    private static DnsMessage Response(int answers)
    {
        var name = DomainName.Parse("db.default.svc.cluster.local");
        var message = new DnsMessage { TransactionID = 4242, IsQuery = false, IsAuthoritiveAnswer = true };
        message.Questions.Add(new DnsQuestion(name, RecordType.A, RecordClass.INet));
        for (var i = 0; i < answers; i++)
        {
            message.AnswerRecords.Add(new ARecord(name, 30, new IPAddress([10, 244, (byte)(i / 250), (byte)(i % 250)])));
        }

        message.AdditionalRecords.Add(new TxtRecord(DomainName.Parse("x.cluster.local"), 30, new string('x', 200)));
        return message;
    }

    [Fact]
    public void Encode_writes_a_message_that_parses_back_with_the_length_prefix_for_tcp()
    {
        var package = DnsWire.Encode(Response(3));

        var framed = package.ToArraySegment(true);
        (framed[0] * 256 + framed[1]).Should().Be(package.Length);
        var parsed = DnsMessage.Parse(package.ToArraySegment(false));
        parsed.TransactionID.Should().Be(4242);
        parsed.AnswerRecords.Should().HaveCount(3);
    }

    [Fact]
    public void SetTimeToLive_changes_a_record_s_ttl()
    {
        var record = new ARecord(DomainName.Parse("a.example"), 300, IPAddress.Loopback);

        DnsWire.SetTimeToLive(record, 42);

        record.TimeToLive.Should().Be(42);
    }

    [Fact]
    public void A_response_that_fits_is_sent_whole()
    {
        var package = DnsWire.EncodeToFit(Response(3), 512);

        var parsed = DnsMessage.Parse(package.ToArraySegment(false));
        parsed.IsTruncated.Should().BeFalse();
        parsed.AdditionalRecords.Should().ContainSingle();
    }

    [Fact]
    public void The_additional_section_goes_first_and_without_TC()
    {
        var package = DnsWire.EncodeToFit(Response(10), 300);

        var parsed = DnsMessage.Parse(package.ToArraySegment(false));
        package.Length.Should().BeLessThanOrEqualTo(300);
        parsed.IsTruncated.Should().BeFalse();
        parsed.AnswerRecords.Should().HaveCount(10);
        parsed.AdditionalRecords.Should().BeEmpty();
    }

    [Fact]
    public void A_response_too_large_is_truncated_to_as_many_answers_as_fit_with_TC()
    {
        var package = DnsWire.EncodeToFit(Response(100), 512);

        var parsed = DnsMessage.Parse(package.ToArraySegment(false));
        package.Length.Should().BeLessThanOrEqualTo(512);
        parsed.IsTruncated.Should().BeTrue();
        parsed.AnswerRecords.Count.Should().BeInRange(20, 99);
        package.Length.Should().BeGreaterThan(512 - 16, "as many answers as fit are kept");
    }

    [Fact]
    public void A_header_only_response_echoes_id_opcode_and_RD_with_the_return_code()
    {
        var package = DnsWire.HeaderOnly(0xBEEF, 0x0100, ReturnCode.FormatError);

        var bytes = package.ToArraySegment(false).ToArray();
        bytes.Should().Equal(0xBE, 0xEF, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0);
    }
}
