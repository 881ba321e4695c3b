using Orchestration.Runtime.Linux.Networking;

namespace Orchestration.Runtime.Linux.Tests;

/// <summary>How the proxy's Service ports are spread over shard tables.</summary>
[Trait("Category", "Unit")]
public sealed class NftablesLayoutTests
{
    [Theory]
    [InlineData(0, 4)]
    [InlineData(1_000, 4)]
    [InlineData(1_025, 5)]
    [InlineData(10_000, 40)]
    [InlineData(1_000_000, 64)]
    public void The_shard_count_follows_the_number_of_service_ports_within_bounds(int ports, int shards)
    {
        var layout = NftablesLayout.For("orch-proxy", ports);

        layout.Shards.Should().Be(shards);
        layout.Tables.Should().Equal(Enumerable.Range(0, shards).Select(i => $"orch-proxy-{i}").Prepend("orch-proxy"));
    }

    [Fact]
    public void A_layout_is_outgrown_only_when_its_shards_fill_up_several_times_over()
    {
        var layout = NftablesLayout.For("orch-proxy", 10_000);

        layout.Outgrown(40 * NftablesLayout.PortsPerShard * NftablesLayout.OutgrownFactor).Should().BeFalse();
        layout.Outgrown((40 * NftablesLayout.PortsPerShard * NftablesLayout.OutgrownFactor) + 1).Should().BeTrue();
        NftablesLayout.For("orch-proxy", 10_000_000).Outgrown(int.MaxValue).Should().BeFalse("there are no more shards to spread over");
    }

    [Theory]
    [InlineData("orch-proxy", true)]
    [InlineData("orch-proxy-0", true)]
    [InlineData("orch-proxy-99", true)]
    [InlineData("orch-proxy-", false)]
    [InlineData("orch-proxy-x", false)]
    [InlineData("orch-proxy-1x", false)]
    [InlineData("orch-proxyx", false)]
    [InlineData("someone-else", false)]
    public void Tables_of_any_layout_are_told_from_tables_that_only_look_alike(string table, bool owned) =>
        NftablesLayout.Owns("orch-proxy", table).Should().Be(owned);

    [Fact]
    public void A_service_port_stays_in_its_shard_whatever_else_is_in_the_table()
    {
        var name = new Orchestration.Networking.ServicePortName("default", "web", "http", Orchestration.Networking.ServiceProtocol.Tcp);
        var port = new Orchestration.Networking.ServicePort(name, 80) { ClusterIPs = [System.Net.IPAddress.Parse("10.96.0.10")] };
        var layout = NftablesLayout.For("orch-proxy", 10_000);

        var first = layout.TableOf(NftablesRuleset.For(port, null));
        var again = layout.TableOf(NftablesRuleset.For(port with { Port = 81 }, "10.244.0.0/16"));

        again.Should().Be(first, "the shard follows the port's name, not its rules");
    }
}
