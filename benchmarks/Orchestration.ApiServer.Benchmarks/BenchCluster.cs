using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Hosting;
using Orchestration.ApiServer.Security;
using Orchestration.Client;
using Orchestration.State;
using Orchestration.State.Sqlite;

namespace Orchestration.ApiServer.Benchmarks;

/// <summary>An API server on a free loopback port over a SQLite store in a scratch directory.</summary>
internal sealed class BenchCluster : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;
    private readonly KubernetesClientConfiguration _credentials;
    private readonly ClusterCertificates _certificates;

    private BenchCluster(WebApplication app, string url, KubernetesClientConfiguration credentials, ClusterCertificates certificates, string directory)
    {
        _app = app;
        _certificates = certificates;
        Url = url;
        _credentials = credentials;
        _directory = directory;
    }

    public string Url { get; }

    /// <summary>The cluster CA's directory: load generators in other processes issue their own client certificates from it.</summary>
    public string PkiDirectory => Path.Combine(_directory, "pki");

    public static async Task<BenchCluster> StartAsync(int? maxMutatingRequestsInFlight = null)
    {
        var directory = Directory.CreateTempSubdirectory("orch-apibench-").FullName;
        var certificates = ClusterCertificates.LoadOrCreate(Path.Combine(directory, "pki"), TimeProvider.System);
        var app = ApiServerHost.Build(
            new ApiServerHostOptions
            {
                Port = 0,
                Certificates = certificates,
                MinimumLogLevel = LogLevel.Warning,
                Api = api => api.MaxMutatingRequestsInFlight = maxMutatingRequestsInFlight ?? api.MaxMutatingRequestsInFlight,
            },
            services => services.AddSingleton<IStateStore>(_ => new SqliteStateStore(new SqliteStateStoreOptions { DataDirectory = Path.Combine(directory, "state"), CompactionInterval = null })));
        await app.StartAsync();
        var url = ApiServerHost.ServerUrl(app);
        return new BenchCluster(app, url, certificates.ClientConfiguration(url, "bench", ["system:masters"], TimeProvider.System), certificates, directory);
    }

    /// <summary>A client with the bench user's certificate; each keeps its own connections.</summary>
    public HttpClient Http()
    {
        var handler = ClusterHttpHandler.Create(_credentials);
        handler.MaxConnectionsPerServer = int.MaxValue;
        return new HttpClient(handler) { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromMinutes(5) };
    }

    /// <summary>
    /// A client shaped like client-go's: one HTTP/2 connection whose streams carry every request,
    /// with a certificate for <paramref name="user"/> (not in system:masters: RBAC and the seat limits apply).
    /// </summary>
    public HttpClient Http2As(string user, params string[] groups) => Http2As(Url, _certificates, user, groups);

    /// <summary>A client-go-shaped client of the server at <paramref name="url"/>, its certificate issued by <paramref name="certificates"/>.</summary>
    public static HttpClient Http2As(string url, ClusterCertificates certificates, string user, params string[] groups)
    {
        var handler = ClusterHttpHandler.Create(certificates.ClientConfiguration(url, user, groups, TimeProvider.System));
        handler.EnableMultipleHttp2Connections = false;
        return new HttpClient(handler)
        {
            BaseAddress = new Uri(url),
            Timeout = TimeSpan.FromMinutes(2),
            DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        if (_app.Services.GetService<IStateStore>() is { } store)
        {
            await store.DisposeAsync();
        }

        await _app.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
