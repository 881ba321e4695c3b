using k8s;

namespace Orchestration.Client;

/// <summary>How a <see cref="RemoteClusterClient"/> reaches the API servers.</summary>
public sealed class RemoteClusterClientOptions
{
    /// <summary>The API servers' URLs; requests go to one and fail over to the next when it cannot be reached.</summary>
    public IList<string> Servers { get; } = [];

    /// <summary>Credentials and trust (client certificate, CA, token), as read from a kubeconfig; its Host is replaced per server.</summary>
    public KubernetesClientConfiguration? Credentials { get; set; }

    /// <summary>How long one request may take (watches excepted).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How many times a request the server turned away with 429 is sent again, each after the
    /// server's <c>Retry-After</c> (at most 10 s), as client-go does; then the 429 reaches the caller.
    /// </summary>
    public int MaxThrottleRetries { get; set; } = 10;

    /// <summary>The clock the waits after a 429 are measured on.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Options from a kubeconfig file: its current context's server and credentials, plus <paramref name="extraServers"/>.</summary>
    public static RemoteClusterClientOptions FromKubeconfig(string path, params string[] extraServers)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path);
        var options = new RemoteClusterClientOptions { Credentials = config };
        options.Servers.Add(config.Host);
        foreach (var server in extraServers)
        {
            options.Servers.Add(server);
        }

        return options;
    }
}
