namespace Orchestration.Dns.Zone;

/// <summary>A named port: protocol in lower case, as the SRV name spells it.</summary>
internal sealed record PortInfo(string Name, string Protocol, int Port);
