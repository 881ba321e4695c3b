namespace Orchestration.Networking;

/// <summary>The transport protocol of a Service port.</summary>
public enum ServiceProtocol
{
    /// <summary>TCP.</summary>
    Tcp,

    /// <summary>UDP.</summary>
    Udp,

    /// <summary>SCTP, where the kernel has it.</summary>
    Sctp,
}
