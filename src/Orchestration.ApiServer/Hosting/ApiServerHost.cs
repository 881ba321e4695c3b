using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Security;

namespace Orchestration.ApiServer.Hosting;

/// <summary>Where and how an API server listens.</summary>
public sealed class ApiServerHostOptions
{
    /// <summary>The address to listen on; loopback by default.</summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>The port (0 picks a free one; read it back from <see cref="ApiServerHost.ServerUrl"/>).</summary>
    public int Port { get; set; } = 6443;

    /// <summary>The cluster certificates: HTTPS with client-certificate authentication. Null serves plain HTTP without authentication.</summary>
    public ClusterCertificates? Certificates { get; set; }

    /// <summary>Settings of the API itself.</summary>
    public Action<ApiServerOptions>? Api { get; set; }

    /// <summary>The lowest level logged.</summary>
    public LogLevel MinimumLogLevel { get; set; } = LogLevel.Information;
}

/// <summary>Composes an ASP.NET Core app that serves the Kubernetes API: the front door for hosts and tests.</summary>
public static class ApiServerHost
{
    /// <summary>
    /// Builds the app: Kestrel on the given address (HTTPS with the cluster CA when certificates
    /// are given), authentication, the API's endpoints, and the services registered by
    /// <paramref name="configureServices"/> (at least an <c>IStateStore</c>; the in-memory store otherwise).
    /// </summary>
    public static WebApplication Build(ApiServerHostOptions options, Action<IServiceCollection>? configureServices = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(options.MinimumLogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        var certificates = options.Certificates;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(options.Address, options.Port, listen =>
            {
                if (certificates is not null)
                {
                    listen.UseHttps(https =>
                    {
                        https.ServerCertificate = certificates.Serving;
                        https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;

                        // Trust is decided per request against the cluster CA, so that a request
                        // without a certificate gets a 401 Status instead of a failed handshake.
                        https.AllowAnyClientCertificate();
                    });
                }
            });
        });
        configureServices?.Invoke(builder.Services);
        builder.Services.AddOrchestrationApiServer(options.Api);
        var app = builder.Build();
        if (certificates is not null)
        {
            app.UseClusterCertificateAuthentication(certificates);
        }

        app.UseKubernetesNotFound();
        app.UseWebSockets();
        app.UseRouting();
        app.MapKubernetesApi();
        return app;
    }

    /// <summary>The URL a started app serves at (with the port Kestrel picked when 0 was asked).</summary>
    public static string ServerUrl(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var address = app.Urls.First();
        return address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
    }
}
