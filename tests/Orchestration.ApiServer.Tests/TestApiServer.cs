using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orchestration.ApiServer.Hosting;
using Orchestration.ApiServer.Security;
using Orchestration.Client;
using Orchestration.State;

namespace Orchestration.ApiServer.Tests;

/// <summary>An API server on a free loopback port, HTTPS with its own CA, over an in-memory store.</summary>
internal sealed class TestApiServer : IAsyncDisposable
{
    private readonly string _directory;

    private TestApiServer(WebApplication app, string url, ClusterCertificates certificates, IStateStore store, string directory)
    {
        App = app;
        Url = url;
        Certificates = certificates;
        Store = store;
        _directory = directory;
    }

    public WebApplication App { get; }

    public string Url { get; }

    public ClusterCertificates Certificates { get; }

    public IStateStore Store { get; }

    public static async Task<TestApiServer> StartAsync(TimeProvider clock, Action<ApiServerOptions>? api = null)
    {
        var directory = Directory.CreateTempSubdirectory("orch-api-").FullName;
        var certificates = ClusterCertificates.LoadOrCreate(Path.Combine(directory, "pki"), TimeProvider.System);
        var store = new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }, clock);
        var app = ApiServerHost.Build(
            new ApiServerHostOptions { Port = 0, Certificates = certificates, Api = api, MinimumLogLevel = LogLevel.Warning },
            services =>
            {
                services.AddSingleton(clock);
                services.AddSingleton<IStateStore>(store);
            });
        await app.StartAsync();
        return new TestApiServer(app, ApiServerHost.ServerUrl(app), certificates, store, directory);
    }

    /// <summary>Client credentials of an admin, as a kubeconfig would carry them.</summary>
    public KubernetesClientConfiguration AdminCredentials() => Certificates.ClientConfiguration(Url, "admin", ["system:masters"], TimeProvider.System);

    public RemoteClusterClient Client(params string[] servers)
    {
        var options = new RemoteClusterClientOptions { Credentials = AdminCredentials() };
        foreach (var server in servers.Length > 0 ? servers : [Url])
        {
            options.Servers.Add(server);
        }

        return new RemoteClusterClient(options, App.Services.GetRequiredService<Resources.ResourceKindTable>());
    }

    /// <summary>An HTTP client with the admin certificate (or, with <paramref name="anonymous"/>, none), trusting the cluster CA.</summary>
    public HttpClient Http(bool anonymous = false)
    {
        var credentials = AdminCredentials();
        if (anonymous)
        {
            credentials.ClientCertificateData = null;
            credentials.ClientCertificateKeyData = null;
        }

        return new HttpClient(ClusterHttpHandler.Create(credentials)) { BaseAddress = new Uri(Url) };
    }

    /// <summary>An HTTP client with a client certificate for <paramref name="user"/> in <paramref name="groups"/>, trusting the cluster CA.</summary>
    public HttpClient HttpAs(string user, params string[] groups) =>
        new(ClusterHttpHandler.Create(Certificates.ClientConfiguration(Url, user, groups, TimeProvider.System))) { BaseAddress = new Uri(Url) };

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
