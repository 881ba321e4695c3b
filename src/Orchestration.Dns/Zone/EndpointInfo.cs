using System.Net;

namespace Orchestration.Dns.Zone;

/// <summary>One endpoint: its addresses, its hostname if it has one, and whether it is ready.</summary>
internal sealed record EndpointInfo(IPAddress[] Addresses, string? Hostname, bool Ready);
