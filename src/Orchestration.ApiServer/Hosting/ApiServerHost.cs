using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Security;
using Orchestration.ApiServer.Security.Authorization;

namespace Orchestration.ApiServer.Hosting;

/// <summary>Composes an ASP.NET Core app that serves the Kubernetes API: for tests and benchmarks that want the app itself; hosts use <c>AddApiServer</c> on the master builder.</summary>
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
        ConfigureKestrel(builder.WebHost, options.Address, options.Port, certificates);
        configureServices?.Invoke(builder.Services);
        builder.Services.AddOrchestrationApiServer(options.Api);
        var app = builder.Build();
        UseKubernetesApi(app, certificates, app.Services);
        return app;
    }

    /// <summary>The URL a started app serves at (with the port Kestrel picked when 0 was asked).</summary>
    public static string ServerUrl(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var address = app.Urls.First();
        return address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
    }

    /// <summary>Kestrel on one address: HTTPS with client certificates asked for when <paramref name="certificates"/> are given, plain HTTP otherwise.</summary>
    internal static void ConfigureKestrel(IWebHostBuilder webHost, IPAddress address, int port, ClusterCertificates? certificates) =>
        webHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(address, port, listen =>
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

    /// <summary>The request pipeline: authentication, impersonation and authorization (with certificates), Status-shaped 404s, WebSockets, and the API's endpoints resolved from <paramref name="services"/>.</summary>
    internal static void UseKubernetesApi(WebApplication app, ClusterCertificates? certificates, IServiceProvider services)
    {
        if (certificates is not null)
        {
            var tokens = services.GetRequiredService<Security.Tokens.ServiceAccountTokens>();
            if (!tokens.CanIssue)
            {
                tokens.UseKey(certificates.ServiceAccountSigningKey());
            }

            var api = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApiServerOptions>>().Value;
            app.UseClusterCertificateAuthentication(certificates, services.GetRequiredService<Security.Tokens.TokenAuthenticators>(), api.AnonymousAuth);
            if (AuditLogOf(services) is { } audit)
            {
                audit.Use(app);
                app.Lifetime.ApplicationStopped.Register(() => audit.DisposeAsync().AsTask().GetAwaiter().GetResult());
            }

            var authorization = services.GetRequiredService<RequestAuthorization>();
            app.UseKubernetesImpersonation(authorization);
            services.GetRequiredService<Security.Overload.RequestConcurrency>().Use(app);
            app.UseKubernetesAuthorization(authorization);
        }

        app.UseKubernetesNotFound();
        app.UseWebSockets();
        app.UseRouting();
        app.MapKubernetesApi(services);
    }

    // The audit log the API options ask for, or null; a policy that cannot be read stops the start.
    private static Security.Audit.AuditLog? AuditLogOf(IServiceProvider services)
    {
        var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApiServerOptions>>().Value;
        if (options.AuditPolicyFile is not { } policyFile || options.AuditLogPath is not { } logPath)
        {
            return null;
        }

        var policy = ConfigurationFiles.Load(policyFile, "audit policy", text => Security.Audit.AuditPolicy.Parse(ConfigurationFiles.YamlObject(text)));
        return new Security.Audit.AuditLog(policy, logPath, options.MaxRequestBodyBytes, services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ILogger<Security.Audit.AuditLog>>());
    }
}
