using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Balancer;
using Grpc.Net.Client.Configuration;

namespace Orchestration.State.Etcd;

/// <summary>
/// One gRPC channel to the cluster. With several endpoints it picks the first that answers and
/// moves to another when that member goes away (gRPC's pick-first balancer over a static list).
/// </summary>
internal static class EtcdChannelFactory
{
    public static GrpcChannel Create(IList<string> endpoints)
    {
        if (endpoints.Count == 0)
        {
            throw new InvalidStateRequestException(nameof(EtcdStateStoreOptions.Endpoints), "name at least one etcd client URL, such as http://127.0.0.1:2379.");
        }

        var uris = endpoints.Select(Parse).ToList();
        if (uris.Count == 1)
        {
            return GrpcChannel.ForAddress(uris[0], new GrpcChannelOptions { Credentials = ChannelCredentials.Insecure });
        }

        var addresses = uris.Select(u => new BalancerAddress(u.Host, u.Port)).ToList();
        return GrpcChannel.ForAddress("static:///etcd", new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Insecure,
            ServiceProvider = new ResolverServices(new StaticResolverFactory(_ => addresses)),
            ServiceConfig = new ServiceConfig { LoadBalancingConfigs = { new PickFirstConfig() } },
        });
    }

    private static Uri Parse(string endpoint)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            throw new InvalidStateRequestException(nameof(EtcdStateStoreOptions.Endpoints), $"'{endpoint}' is not an etcd client URL of the form http://HOST:PORT.");
        }

        return uri;
    }

    /// <summary>The one service the balancer asks for, without pulling in a DI container.</summary>
    private sealed class ResolverServices(ResolverFactory factory) : IServiceProvider
    {
        public object? GetService(Type serviceType) =>
            serviceType == typeof(ResolverFactory) ? factory
            : serviceType == typeof(IEnumerable<ResolverFactory>) ? new[] { factory }
            : null;
    }
}
