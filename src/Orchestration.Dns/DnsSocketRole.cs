namespace Orchestration.Dns;

/// <summary>What a socket asked of an <see cref="IDnsSocketFactory"/> is for.</summary>
public enum DnsSocketRole
{
    /// <summary>Answers clients: a UDP socket or a TCP listener bound to one of the listen endpoints.</summary>
    Listener,

    /// <summary>Sends forwarded queries to an upstream resolver.</summary>
    Upstream,
}
