using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace Orchestration.Dns.Zone;

/// <summary>The zone's answer to one question: the sections of the response, and where a CNAME chain leaves the zone.</summary>
internal sealed class ZoneAnswer
{
    public ReturnCode ReturnCode { get; set; } = ReturnCode.NoError;

    public List<DnsRecordBase> Answers { get; } = [];

    public List<DnsRecordBase> Authority { get; } = [];

    public List<DnsRecordBase> Additional { get; } = [];

    /// <summary>The target of a CNAME outside the cluster domain (an ExternalName Service): the rest of the answer is an upstream's.</summary>
    public DomainName? ExternalTarget { get; set; }
}
