using System.Net;

namespace Orchestration.Dns.Tests;

[Trait("Category", "Unit")]
public sealed class ClusterDnsOptionsValidatorTests
{
    private static ClusterDnsOptions Valid() => new() { ListenEndPoints = { new IPEndPoint(IPAddress.Loopback, 0) } };

    [Fact]
    public void Defaults_with_a_listen_endpoint_are_valid()
    {
        new ClusterDnsOptionsValidator().Validate(null, Valid()).Succeeded.Should().BeTrue();
    }

    [Theory]
    [InlineData("ClusterDomain")]
    [InlineData("ListenEndPoints")]
    [InlineData("Upstreams")]
    [InlineData("Ttl")]
    [InlineData("UpstreamTimeout")]
    [InlineData("CacheSize")]
    [InlineData("UdpReceivers")]
    [InlineData("MaxUdpPayloadSize")]
    [InlineData("MaxTcpConnections")]
    [InlineData("TcpIdleTimeout")]
    public void A_wrong_option_fails_with_its_name(string option)
    {
        var options = Valid();
        switch (option)
        {
            case "ClusterDomain": options.ClusterDomain = " "; break;
            case "ListenEndPoints": options.ListenEndPoints.Clear(); break;
            case "Upstreams": options.Upstreams.Add(new IPEndPoint(IPAddress.Loopback, 0)); break;
            case "Ttl": options.Ttl = TimeSpan.FromSeconds(-1); break;
            case "UpstreamTimeout": options.UpstreamTimeout = TimeSpan.Zero; break;
            case "CacheSize": options.CacheSize = -1; break;
            case "UdpReceivers": options.UdpReceivers = 0; break;
            case "MaxUdpPayloadSize": options.MaxUdpPayloadSize = 100; break;
            case "MaxTcpConnections": options.MaxTcpConnections = 0; break;
            case "TcpIdleTimeout": options.TcpIdleTimeout = TimeSpan.Zero; break;
        }

        var result = new ClusterDnsOptionsValidator().Validate(null, options);

        result.Failed.Should().BeTrue();
        result.FailureMessage.Should().Contain("ClusterDnsOptions." + option);
    }
}
