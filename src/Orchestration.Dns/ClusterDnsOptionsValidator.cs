using System.Net.Sockets;
using ARSoft.Tools.Net;
using Microsoft.Extensions.Options;

namespace Orchestration.Dns;

/// <summary>Checks <see cref="ClusterDnsOptions"/> at start, naming the option that is wrong and what it takes.</summary>
public sealed class ClusterDnsOptionsValidator : IValidateOptions<ClusterDnsOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ClusterDnsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ClusterDomain) || !DomainName.TryParse(options.ClusterDomain, out var domain) || domain!.LabelCount == 0)
        {
            failures.Add($"ClusterDnsOptions.ClusterDomain \"{options.ClusterDomain}\" is not a domain name (such as cluster.local)");
        }

        if (options.Ttl < TimeSpan.Zero || options.Ttl > TimeSpan.FromDays(1))
        {
            failures.Add($"ClusterDnsOptions.Ttl {options.Ttl} must be between 0 and one day");
        }

        if (options.ListenEndPoints.Count == 0)
        {
            failures.Add("ClusterDnsOptions.ListenEndPoints is empty: give the address to answer on (such as the kube-dns Service address 10.96.0.10:53)");
        }

        foreach (var endPoint in options.ListenEndPoints)
        {
            if (endPoint is null || endPoint.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
            {
                failures.Add($"ClusterDnsOptions.ListenEndPoints holds \"{endPoint}\", which is not an IPv4 or IPv6 endpoint");
            }
        }

        foreach (var upstream in options.Upstreams)
        {
            if (upstream is null || upstream.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6) || upstream.Port == 0)
            {
                failures.Add($"ClusterDnsOptions.Upstreams holds \"{upstream}\": an upstream is an IPv4 or IPv6 address with a port (such as 192.0.2.53:53)");
            }
        }

        if (options.UpstreamTimeout <= TimeSpan.Zero)
        {
            failures.Add($"ClusterDnsOptions.UpstreamTimeout {options.UpstreamTimeout} must be positive");
        }

        if (options.CacheSize < 0)
        {
            failures.Add($"ClusterDnsOptions.CacheSize {options.CacheSize} must be 0 (no cache) or more");
        }

        if (options.MaxCacheTtl < TimeSpan.Zero)
        {
            failures.Add($"ClusterDnsOptions.MaxCacheTtl {options.MaxCacheTtl} must not be negative");
        }

        if (options.UdpReceivers is < 1 or > 1024)
        {
            failures.Add($"ClusterDnsOptions.UdpReceivers {options.UdpReceivers} must be between 1 and 1024");
        }

        if (options.MaxUdpPayloadSize is < 512 or > 65535)
        {
            failures.Add($"ClusterDnsOptions.MaxUdpPayloadSize {options.MaxUdpPayloadSize} must be between 512 and 65535");
        }

        if (options.MaxTcpConnections < 1)
        {
            failures.Add($"ClusterDnsOptions.MaxTcpConnections {options.MaxTcpConnections} must be at least 1");
        }

        if (options.TcpIdleTimeout <= TimeSpan.Zero)
        {
            failures.Add($"ClusterDnsOptions.TcpIdleTimeout {options.TcpIdleTimeout} must be positive");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
