using System.Net;

namespace Orchestration.Dns.Tests;

[Trait("Category", "Unit")]
public sealed class ResolvConfTests
{
    [Fact]
    public void Parse_reads_nameservers_in_order_the_last_search_line_and_every_option()
    {
        var conf = ResolvConf.Parse("""
            # written by the installer
            nameserver 192.0.2.53
            nameserver 2001:db8::53 ; the v6 one
            nameserver not-an-address
            domain old.example
            search corp.example example.com
            options ndots:2 timeout:3
            options edns0 ndots:5
            sortlist 130.155.160.0/255.255.240.0
            """);

        conf.Nameservers.Should().Equal(IPAddress.Parse("192.0.2.53"), IPAddress.Parse("2001:db8::53"));
        conf.Searches.Should().Equal("corp.example", "example.com");
        conf.Options.Should().Equal("ndots:2", "timeout:3", "edns0", "ndots:5");
        conf.Ndots.Should().Be(5);
        conf.OptionValue("timeout").Should().Be(3);
        conf.OptionValue("attempts").Should().BeNull();
        conf.NameserverEndPoints().Should().Equal(new IPEndPoint(IPAddress.Parse("192.0.2.53"), 53), new IPEndPoint(IPAddress.Parse("2001:db8::53"), 53));
    }

    [Fact]
    public void A_domain_line_after_search_replaces_it_and_ndots_defaults_to_one()
    {
        var conf = ResolvConf.Parse("search a.example b.example\r\ndomain c.example\r\n");

        conf.Searches.Should().Equal("c.example");
        conf.Ndots.Should().Be(1);
        conf.Nameservers.Should().BeEmpty();
    }

    [Fact]
    public void ToString_writes_a_file_that_parses_back_to_the_same_configuration()
    {
        var conf = new ResolvConf([IPAddress.Parse("10.96.0.10")], ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"], ["ndots:5"]);

        var text = conf.ToString();

        text.Should().Be("nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n");
        var back = ResolvConf.Parse(text);
        back.Nameservers.Should().Equal(conf.Nameservers);
        back.Searches.Should().Equal(conf.Searches);
        back.Options.Should().Equal(conf.Options);
    }

    [Fact]
    public async Task LoadAsync_reads_a_file()
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, "nameserver 127.0.0.53\noptions edns0 trust-ad\n");

            var conf = await ResolvConf.LoadAsync(path);

            conf.Nameservers.Should().Equal(IPAddress.Parse("127.0.0.53"));
            conf.Options.Should().Equal("edns0", "trust-ad");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
