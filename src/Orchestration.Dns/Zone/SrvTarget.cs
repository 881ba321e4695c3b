using ARSoft.Tools.Net;

namespace Orchestration.Dns.Zone;

/// <summary>The data of one SRV record (RFC 2782).</summary>
internal readonly record struct SrvTarget(ushort Priority, ushort Weight, ushort Port, DomainName Target);
