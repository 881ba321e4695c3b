using System.Net;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Security;

namespace Orchestration.ApiServer.Hosting;

/// <summary>Where and how an API server listens, and what it writes for its users.</summary>
public sealed class ApiServerHostOptions
{
    /// <summary>The address to listen on; loopback by default.</summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>The port (0 picks a free one; read it back from <see cref="ApiServerHost.ServerUrl"/> or <see cref="ApiServerService.ServerUrl"/>).</summary>
    public int Port { get; set; } = 6443;

    /// <summary>The cluster certificates: HTTPS with client-certificate authentication. Null serves plain HTTP without authentication, unless <see cref="CertificateDirectory"/> is given.</summary>
    public ClusterCertificates? Certificates { get; set; }

    /// <summary>
    /// Where the cluster's CA and serving certificate live: made there on the first start (a new
    /// cluster), loaded on later ones. Used when <see cref="Certificates"/> is null.
    /// </summary>
    public string? CertificateDirectory { get; set; }

    /// <summary>Serves plain HTTP without authentication even though certificates exist (local experiments only).</summary>
    public bool PlainHttp { get; set; }

    /// <summary>Where to write a kubeconfig of the cluster's administrator (group <c>system:masters</c>) once the server listens; null writes none.</summary>
    public string? AdminKubeconfigPath { get; set; }

    /// <summary>The cluster's name in the kubeconfig.</summary>
    public string ClusterName { get; set; } = "orchestration";

    /// <summary>Settings of the API itself.</summary>
    public Action<ApiServerOptions>? Api { get; set; }

    /// <summary>The lowest level logged (by <see cref="ApiServerHost.Build"/>, which sets up its own logging).</summary>
    public LogLevel MinimumLogLevel { get; set; } = LogLevel.Information;
}
