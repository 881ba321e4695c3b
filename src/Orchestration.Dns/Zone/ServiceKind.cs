namespace Orchestration.Dns.Zone;

/// <summary>How a Service is published.</summary>
internal enum ServiceKind
{
    /// <summary>A virtual address (ClusterIP, NodePort, LoadBalancer).</summary>
    ClusterIP,

    /// <summary>No virtual address: the name resolves to the ready endpoints.</summary>
    Headless,

    /// <summary>A CNAME to another name.</summary>
    ExternalName,
}
