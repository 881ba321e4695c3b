using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Dns.Hosting;

namespace Orchestration.Dns.Tests;

[Trait("Category", "Unit")]
public sealed class ClusterDnsServiceCollectionExtensionsTests
{
    private static ServiceProvider Build(Action<ClusterDnsOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddClusterDns(configure);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task AddClusterDns_gives_a_server_and_the_zone_it_answers_from()
    {
        await using var provider = Build(o => o.ListenEndPoints.Add(new IPEndPoint(IPAddress.Loopback, 0)));

        var server = provider.GetRequiredService<ClusterDnsServer>();

        server.Zone.Should().BeSameAs(provider.GetRequiredService<ClusterDnsZone>());
        provider.GetRequiredService<IDnsSocketFactory>().Should().BeSameAs(DnsSocketFactory.Default);
    }

    [Fact]
    public async Task AddClusterDns_checks_the_options()
    {
        await using var provider = Build(o => o.ClusterDomain = "");

        var resolve = () => provider.GetRequiredService<IOptions<ClusterDnsOptions>>().Value;

        resolve.Should().Throw<OptionsValidationException>().WithMessage("*ClusterDomain*");
    }
}
