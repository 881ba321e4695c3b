namespace Orchestration.Controllers.Auth;

/// <summary>Where the cluster's CA certificate comes from: the API server that serves with it.</summary>
public interface IRootCaSource
{
    /// <summary>The CA certificate as PEM, or null while it is not known yet (the API server has not started) or the cluster has none (plain HTTP).</summary>
    string? CertificatePem { get; }
}
