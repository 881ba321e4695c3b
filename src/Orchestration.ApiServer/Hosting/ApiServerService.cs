using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orchestration.ApiServer.Security;

namespace Orchestration.ApiServer.Hosting;

/// <summary>
/// The API server as a part of a master's host: Kestrel serving the Kubernetes API over the host's
/// registry (the web server's own container carries only ASP.NET Core's parts; the API's are the
/// host's), with the cluster certificates made on the first start, and the administrator's
/// kubeconfig written once it listens.
/// </summary>
public sealed partial class ApiServerService(IServiceProvider services, IOptions<ApiServerHostOptions> options, TimeProvider timeProvider, ILoggerFactory loggers) : IHostedService, IAsyncDisposable, Controllers.Auth.IRootCaSource
{
    private readonly ILogger _logger = loggers.CreateLogger<ApiServerService>();
    private WebApplication? _app;

    /// <summary>Where the server listens (<c>https://127.0.0.1:6443</c>), once started.</summary>
    public string? ServerUrl { get; private set; }

    /// <summary>The cluster's certificates, once started (null when it serves plain HTTP and none were asked for).</summary>
    public ClusterCertificates? Certificates { get; private set; }

    /// <inheritdoc />
    public string? CertificatePem { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        Certificates = settings.Certificates
            ?? (settings.CertificateDirectory is { } directory ? ClusterCertificates.LoadOrCreate(directory, timeProvider, ServingNames()) : null);
        CertificatePem = Certificates?.Authority.ExportCertificatePem();
        var serving = settings.PlainHttp ? null : Certificates;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        ApiServerHost.ConfigureKestrel(builder.WebHost, settings.Address, settings.Port, serving);
        _app = builder.Build();
        ApiServerHost.UseKubernetesApi(_app, serving, services);
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);

        ServerUrl = Url(serving is null ? "http" : "https", settings.Address, new Uri(_app.Urls.First()).Port);
        LogServing(ServerUrl);
        if (settings.AdminKubeconfigPath is { } path && Certificates is not null)
        {
            await WriteAdminKubeconfigAsync(Path.GetFullPath(path), settings.ClusterName, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _app, null) is { } app)
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }
    }

    // The kubernetes Service's address, which pods' clients reach the server at (its in-cluster name is there already).
    private IEnumerable<string> ServingNames() =>
        services.GetService<Resources.ObjectRegistry>()?.ServiceAddresses is { } addresses ? [addresses.FirstAddress.ToString()] : [];

    /// <summary>A URL clients can use: a wildcard address is reached on loopback.</summary>
    private static string Url(string scheme, IPAddress address, int port)
    {
        var host = address.Equals(IPAddress.Any) ? IPAddress.Loopback : address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : address;
        return host.AddressFamily == AddressFamily.InterNetworkV6 ? $"{scheme}://[{host}]:{port}" : $"{scheme}://{host}:{port}";
    }

    private async Task WriteAdminKubeconfigAsync(string path, string clusterName, CancellationToken cancellationToken)
    {
        var (certificate, key) = Certificates!.LoadOrIssueClient("admin", "orchestration-admin", ["system:masters"], timeProvider);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, Kubeconfig.Create(clusterName, ServerUrl!, Certificates.Authority.ExportCertificatePem(), certificate, key), cancellationToken).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            // It holds the administrator's key.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        LogKubeconfigWritten(path);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "The API server listens on {Url}")]
    private partial void LogServing(string url);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Wrote the administrator's kubeconfig to {Path}")]
    private partial void LogKubeconfigWritten(string path);
}
