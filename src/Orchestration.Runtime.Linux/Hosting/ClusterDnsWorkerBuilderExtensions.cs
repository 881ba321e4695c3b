using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orchestration.Dns;
using Orchestration.Dns.Hosting;
using Orchestration.Hosting;
using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Hosting;

/// <summary>Runs the cluster DNS on a worker's node.</summary>
public static class ClusterDnsWorkerBuilderExtensions
{
    /// <summary>The address each node's DNS server listens on: NodeLocal DNSCache's link-local one, the <c>kube-dns</c> Service's endpoint.</summary>
    public static IPAddress NodeLocalAddress { get; } = IPAddress.Parse("169.254.20.10");

    /// <summary>
    /// Answers the cluster's names on the worker's node (<see cref="NodeDnsService"/>): a DNS server
    /// inside the node's network namespace on <see cref="NodeLocalAddress"/>:53 (UDP and TCP) unless
    /// <paramref name="configure"/> gives listen endpoints, forwarding other names to the name servers
    /// of the node's resolv.conf unless it gives upstreams (<see cref="NodeDnsOptions.ResolvConf"/>
    /// null forwards nowhere). The containerd and Docker nodes run it unless told otherwise.
    /// </summary>
    public static IWorkerBuilder UseClusterDns(this IWorkerBuilder builder, Action<ClusterDnsOptions>? configure = null, Action<NodeDnsOptions>? node = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var nodeOptions = builder.Services.AddOptions<NodeDnsOptions>();
        if (node is not null)
        {
            nodeOptions.Configure(node);
        }

        builder.Services.AddClusterDns(configure);
        builder.Services.AddOptions<ClusterDnsOptions>().PostConfigure<IOptions<NodeDnsOptions>>((dns, settings) =>
        {
            if (dns.ListenEndPoints.Count == 0)
            {
                dns.ListenEndPoints.Add(new IPEndPoint(NodeLocalAddress, 53));
            }

            if (dns.Upstreams.Count == 0 && settings.Value.ResolvConf is { } path && File.Exists(path))
            {
                foreach (var upstream in ResolvConf.Parse(File.ReadAllText(path)).NameserverEndPoints())
                {
                    dns.Upstreams.Add(upstream);
                }
            }
        });
        builder.Services.Replace(ServiceDescriptor.Singleton<IDnsSocketFactory>(sp => new NamespaceDnsSocketFactory(sp.GetService<INodeNetworkNamespace>())));
        if (!builder.Services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(NodeDnsService)))
        {
            builder.Services.AddHostedService<NodeDnsService>();
        }

        return builder;
    }

    /// <summary>Runs no cluster DNS on the worker's node, even where the runtime would by default.</summary>
    public static IWorkerBuilder WithoutClusterDns(this IWorkerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var descriptor in builder.Services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(NodeDnsService)).ToList())
        {
            builder.Services.Remove(descriptor);
        }

        builder.Services.TryAddSingleton<NoClusterDns>();
        return builder;
    }

    /// <summary>Runs the cluster DNS unless the worker has chosen otherwise: what the containerd and Docker nodes call.</summary>
    public static IWorkerBuilder UseClusterDnsByDefault(this IWorkerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var chosen = builder.Services.Any(d => d.ServiceType == typeof(NoClusterDns) || (d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(NodeDnsService)));
        return chosen ? builder : builder.UseClusterDns();
    }

    /// <summary>Marks a worker that chose to run no cluster DNS.</summary>
    private sealed class NoClusterDns;
}
