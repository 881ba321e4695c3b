using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using Orchestration.Dns.Zone;
using static Orchestration.Dns.Tests.Objects;

namespace Orchestration.Dns.Tests;

/// <summary>The records of the Kubernetes DNS specification 1.1.0, as the zone answers them.</summary>
[Trait("Category", "Unit")]
public sealed class ClusterDnsZoneTests
{
    private readonly ClusterDnsZone _zone = new(new ClusterDnsOptions
    {
        ServiceCidrs = { IPNetwork.Parse("10.96.0.0/12") },
        PodCidrs = { IPNetwork.Parse("10.244.0.0/16") },
    });

    private ZoneAnswer Ask(string name, RecordType type) =>
        _zone.Answer(DomainName.Parse(name), type) ?? throw new InvalidOperationException($"{name} is not the zone's");

    private static string[] Addresses(ZoneAnswer answer) =>
        [.. answer.Answers.Select(r => r switch { ARecord a => a.Address.ToString(), AaaaRecord a => a.Address.ToString(), _ => r.ToString() })];

    [Fact]
    public void A_ClusterIP_service_has_an_A_record_with_its_cluster_ip()
    {
        _zone.SetService(ClusterIP("default", "kubernetes", "10.96.0.1", Port("https", 443)));

        var answer = Ask("kubernetes.default.svc.cluster.local", RecordType.A);

        answer.ReturnCode.Should().Be(ReturnCode.NoError);
        var record = answer.Answers.Should().ContainSingle().Which.Should().BeOfType<ARecord>().Which;
        record.Address.Should().Be(IPAddress.Parse("10.96.0.1"));
        record.TimeToLive.Should().Be(30);
        record.Name.ToString().Should().Be("kubernetes.default.svc.cluster.local.");
    }

    [Fact]
    public void A_dual_stack_service_has_A_and_AAAA_records_and_an_ipv6_only_name_has_no_A()
    {
        _zone.SetService(ClusterIP("default", "dual", ["10.96.0.20", "fd00:10:96::20"]));
        _zone.SetService(ClusterIP("default", "six", "fd00:10:96::21"));

        Addresses(Ask("dual.default.svc.cluster.local", RecordType.A)).Should().Equal("10.96.0.20");
        Addresses(Ask("dual.default.svc.cluster.local", RecordType.Aaaa)).Should().Equal("fd00:10:96::20");
        var noA = Ask("six.default.svc.cluster.local", RecordType.A);
        noA.ReturnCode.Should().Be(ReturnCode.NoError);
        noA.Answers.Should().BeEmpty();
        noA.Authority.Should().ContainSingle().Which.Should().BeOfType<SoaRecord>();
    }

    [Fact]
    public void Names_are_matched_without_regard_to_case_and_answered_in_the_question_s_case()
    {
        _zone.SetService(ClusterIP("default", "web", "10.96.0.30"));

        var answer = Ask("WeB.Default.SVC.Cluster.Local", RecordType.A);

        answer.Answers.Should().ContainSingle().Which.Name.ToString().Should().Be("WeB.Default.SVC.Cluster.Local.");
    }

    [Fact]
    public void Named_ports_of_a_ClusterIP_service_have_SRV_records_that_point_at_the_service_and_unnamed_ports_none()
    {
        _zone.SetService(ClusterIP("default", "web", "10.96.0.30", Port("http", 80), Port("dns", 53, "UDP")));
        _zone.SetService(ClusterIP("default", "plain", "10.96.0.31", Port(null, 8080)));

        var srv = Ask("_http._tcp.web.default.svc.cluster.local", RecordType.Srv);
        var record = srv.Answers.Should().ContainSingle().Which.Should().BeOfType<SrvRecord>().Which;
        record.Port.Should().Be(80);
        record.Target.ToString().Should().Be("web.default.svc.cluster.local.");
        srv.Additional.Should().ContainSingle().Which.Should().BeOfType<ARecord>().Which.Address.Should().Be(IPAddress.Parse("10.96.0.30"));
        Ask("_dns._udp.web.default.svc.cluster.local", RecordType.Srv).Answers.OfType<SrvRecord>().Single().Port.Should().Be(53);
        Ask("_http._udp.web.default.svc.cluster.local", RecordType.Srv).ReturnCode.Should().Be(ReturnCode.NxDomain);
        Ask("_tcp.plain.default.svc.cluster.local", RecordType.Srv).ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void Cluster_ips_have_PTR_records_in_in_addr_arpa_and_ip6_arpa()
    {
        _zone.SetService(ClusterIP("default", "kubernetes", ["10.96.0.1", "2001:db8::1"]));

        Ask("1.0.96.10.in-addr.arpa", RecordType.Ptr).Answers.Should().ContainSingle()
            .Which.Should().BeOfType<PtrRecord>().Which.PointerDomainName.ToString().Should().Be("kubernetes.default.svc.cluster.local.");
        Ask("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", RecordType.Ptr).Answers.Should().ContainSingle()
            .Which.Should().BeOfType<PtrRecord>().Which.PointerDomainName.ToString().Should().Be("kubernetes.default.svc.cluster.local.");
    }

    [Fact]
    public void A_headless_service_answers_with_its_ready_endpoints_only()
    {
        _zone.SetService(Headless("default", "db"));
        _zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.1"), Endpoint("10.244.0.2", ready: null), Endpoint("10.244.0.3", ready: false)]));
        _zone.SetEndpointSlice(Slice("default", "db-2", "db", [Endpoint("fd00:10:244::4")]));

        Addresses(Ask("db.default.svc.cluster.local", RecordType.A)).Should().BeEquivalentTo("10.244.0.1", "10.244.0.2");
        Addresses(Ask("db.default.svc.cluster.local", RecordType.Aaaa)).Should().Equal("fd00:10:244::4");
    }

    [Fact]
    public void A_headless_service_that_publishes_not_ready_addresses_answers_with_every_endpoint()
    {
        var service = Headless("default", "peers");
        service.Spec.PublishNotReadyAddresses = true;
        _zone.SetService(service);
        _zone.SetEndpointSlice(Slice("default", "peers-1", "peers", [Endpoint("10.244.0.1"), Endpoint("10.244.0.3", ready: false)]));

        Addresses(Ask("peers.default.svc.cluster.local", RecordType.A)).Should().BeEquivalentTo("10.244.0.1", "10.244.0.3");
    }

    [Fact]
    public void A_headless_service_without_ready_endpoints_is_NXDOMAIN()
    {
        _zone.SetService(Headless("default", "db"));
        _zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.3", ready: false)]));

        Ask("db.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void Endpoints_with_a_hostname_have_their_own_name_and_the_others_a_dashed_address_name()
    {
        _zone.SetService(Headless("default", "web"));
        _zone.SetEndpointSlice(Slice("default", "web-1", "web", [Endpoint("10.244.1.5", hostname: "web-0"), Endpoint("10.244.1.6")]));

        Addresses(Ask("web-0.web.default.svc.cluster.local", RecordType.A)).Should().Equal("10.244.1.5");
        Addresses(Ask("10-244-1-6.web.default.svc.cluster.local", RecordType.A)).Should().Equal("10.244.1.6");
        Ask("web-1.web.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void A_headless_service_has_one_SRV_record_per_ready_endpoint_and_named_port_with_the_addresses_as_additional_records()
    {
        _zone.SetService(Headless("default", "web", Port("http", 80), Port("metrics", 9090)));
        _zone.SetEndpointSlice(Slice("default", "web-1", "web", [Endpoint("10.244.1.5", hostname: "web-0"), Endpoint("10.244.1.6"), Endpoint("10.244.1.7", ready: false)],
            SlicePort("http", 8080), SlicePort("metrics", 9090), SlicePort(null, 7000)));

        var answer = Ask("_http._tcp.web.default.svc.cluster.local", RecordType.Srv);

        var records = answer.Answers.Cast<SrvRecord>().ToList();
        records.Select(r => r.Target.ToString()).Should().BeEquivalentTo("web-0.web.default.svc.cluster.local.", "10-244-1-6.web.default.svc.cluster.local.");
        records.Should().OnlyContain(r => r.Port == 8080 && r.Weight == 50);
        answer.Additional.Cast<ARecord>().Select(r => (r.Name.ToString(), r.Address.ToString()))
            .Should().BeEquivalentTo([("web-0.web.default.svc.cluster.local.", "10.244.1.5"), ("10-244-1-6.web.default.svc.cluster.local.", "10.244.1.6")]);
        Ask("_metrics._tcp.web.default.svc.cluster.local", RecordType.Srv).Answers.Should().HaveCount(2);
    }

    [Fact]
    public void Ready_endpoints_of_a_headless_service_have_PTR_records_to_their_own_names()
    {
        _zone.SetService(Headless("default", "web"));
        _zone.SetEndpointSlice(Slice("default", "web-1", "web", [Endpoint("10.244.1.5", hostname: "web-0"), Endpoint("10.244.1.6"), Endpoint("10.244.1.7", ready: false)]));

        Ask("5.1.244.10.in-addr.arpa", RecordType.Ptr).Answers.Cast<PtrRecord>().Single().PointerDomainName.ToString().Should().Be("web-0.web.default.svc.cluster.local.");
        Ask("6.1.244.10.in-addr.arpa", RecordType.Ptr).Answers.Cast<PtrRecord>().Single().PointerDomainName.ToString().Should().Be("10-244-1-6.web.default.svc.cluster.local.");
        Ask("7.1.244.10.in-addr.arpa", RecordType.Ptr).ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void An_address_in_two_headless_services_has_a_PTR_record_for_each_until_one_goes()
    {
        _zone.SetService(Headless("default", "a"));
        _zone.SetService(Headless("default", "b"));
        _zone.SetEndpointSlice(Slice("default", "a-1", "a", [Endpoint("10.244.1.5")]));
        _zone.SetEndpointSlice(Slice("default", "b-1", "b", [Endpoint("10.244.1.5")]));

        Ask("5.1.244.10.in-addr.arpa", RecordType.Ptr).Answers.Should().HaveCount(2);
        _zone.RemoveService("default", "a").Should().BeTrue();
        Ask("5.1.244.10.in-addr.arpa", RecordType.Ptr).Answers.Cast<PtrRecord>().Single().PointerDomainName.ToString().Should().Be("10-244-1-5.b.default.svc.cluster.local.");
    }

    [Fact]
    public void An_ExternalName_service_is_a_CNAME_whose_target_is_left_to_upstream()
    {
        _zone.SetService(ExternalName("default", "search", "www.example.com"));

        var asked = Ask("search.default.svc.cluster.local", RecordType.A);
        asked.Answers.Should().ContainSingle().Which.Should().BeOfType<CNameRecord>().Which.CanonicalName.ToString().Should().Be("www.example.com.");
        asked.ExternalTarget!.ToString().Should().Be("www.example.com.");
        var cname = Ask("search.default.svc.cluster.local", RecordType.CName);
        cname.Answers.Should().ContainSingle().Which.Should().BeOfType<CNameRecord>();
        cname.ExternalTarget.Should().BeNull();
    }

    [Fact]
    public void An_ExternalName_pointing_into_the_cluster_is_followed_in_the_zone()
    {
        _zone.SetService(ExternalName("default", "alias", "web.other.svc.cluster.local"));
        _zone.SetService(ClusterIP("other", "web", "10.96.0.40"));

        var answer = Ask("alias.default.svc.cluster.local", RecordType.A);

        answer.Answers.Should().HaveCount(2);
        answer.Answers[0].Should().BeOfType<CNameRecord>();
        answer.Answers[1].Should().BeOfType<ARecord>().Which.Address.Should().Be(IPAddress.Parse("10.96.0.40"));
        answer.ExternalTarget.Should().BeNull();
    }

    [Fact]
    public void An_ExternalName_that_is_not_a_domain_name_gets_no_record()
    {
        _zone.SetService(ExternalName("default", "broken", "not a name!"));

        Ask("broken.default.svc.cluster.local", RecordType.A).Answers.Should().BeEmpty();
    }

    [Fact]
    public void The_schema_version_is_a_TXT_record()
    {
        var answer = Ask("dns-version.cluster.local", RecordType.Txt);

        answer.Answers.Should().ContainSingle().Which.Should().BeOfType<TxtRecord>().Which.TextData.Should().Be("1.1.0");
    }

    [Fact]
    public void A_missing_name_is_NXDOMAIN_with_the_zone_s_SOA()
    {
        var answer = Ask("nothing.default.svc.cluster.local", RecordType.A);

        answer.ReturnCode.Should().Be(ReturnCode.NxDomain);
        answer.Answers.Should().BeEmpty();
        var soa = answer.Authority.Should().ContainSingle().Which.Should().BeOfType<SoaRecord>().Which;
        soa.Name.ToString().Should().Be("cluster.local.");
        soa.MasterName.ToString().Should().Be("ns.dns.cluster.local.");
        soa.NegativeCachingTTL.Should().Be(30);
    }

    [Fact]
    public void A_name_without_the_type_asked_is_NODATA_with_the_SOA()
    {
        _zone.SetService(ClusterIP("default", "web", "10.96.0.30"));

        var answer = Ask("web.default.svc.cluster.local", RecordType.Mx);

        answer.ReturnCode.Should().Be(ReturnCode.NoError);
        answer.Answers.Should().BeEmpty();
        answer.Authority.Should().ContainSingle().Which.Should().BeOfType<SoaRecord>();
    }

    [Fact]
    public void Names_above_existing_names_exist_without_records()
    {
        _zone.SetService(ClusterIP("team", "web", "10.96.0.30", Port("http", 80)));

        Ask("team.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NoError);
        Ask("_tcp.web.team.svc.cluster.local", RecordType.Srv).ReturnCode.Should().Be(ReturnCode.NoError);
        Ask("svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NoError);
        Ask("empty.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
        _zone.RemoveService("team", "web");
        Ask("team.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void The_apex_answers_SOA_and_NS()
    {
        Ask("cluster.local", RecordType.Soa).Answers.Should().ContainSingle().Which.Should().BeOfType<SoaRecord>();
        Ask("cluster.local", RecordType.Ns).Answers.Should().ContainSingle().Which.Should().BeOfType<NsRecord>();
    }

    [Fact]
    public void Pod_names_answer_the_address_they_spell()
    {
        Addresses(Ask("10-244-1-5.default.pod.cluster.local", RecordType.A)).Should().Equal("10.244.1.5");
        Addresses(Ask("fd00-10-244--5.default.pod.cluster.local", RecordType.Aaaa)).Should().Equal("fd00:10:244::5");
        Ask("10-244-1-5.default.pod.cluster.local", RecordType.Aaaa).Answers.Should().BeEmpty();
        Ask("10-244-1.default.pod.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
        Ask("10-244-1-300.default.pod.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void Pod_names_are_NXDOMAIN_when_pod_records_are_off()
    {
        var zone = new ClusterDnsZone(new ClusterDnsOptions { PodRecords = false });

        zone.Answer(DomainName.Parse("10-244-1-5.default.pod.cluster.local"), RecordType.A)!.ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void A_slice_seen_before_its_service_is_published_when_the_service_comes()
    {
        _zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.1")]));
        Ask("db.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);

        _zone.SetService(Headless("default", "db"));

        Addresses(Ask("db.default.svc.cluster.local", RecordType.A)).Should().Equal("10.244.0.1");
    }

    [Fact]
    public void Removing_and_replacing_slices_and_services_withdraws_their_records()
    {
        _zone.SetService(Headless("default", "db"));
        _zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.1"), Endpoint("10.244.0.2")]));
        _zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.2")]));
        Addresses(Ask("db.default.svc.cluster.local", RecordType.A)).Should().Equal("10.244.0.2");
        Ask("1.0.244.10.in-addr.arpa", RecordType.Ptr).ReturnCode.Should().Be(ReturnCode.NxDomain);

        _zone.RemoveEndpointSlice("default", "db-1").Should().BeTrue();
        Ask("db.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
        _zone.RemoveEndpointSlice("default", "db-1").Should().BeFalse();

        _zone.SetService(ClusterIP("default", "web", "10.96.0.30", Port("http", 80)));
        _zone.SetService(ClusterIP("default", "web", "10.96.0.31", Port("https", 443)));
        Addresses(Ask("web.default.svc.cluster.local", RecordType.A)).Should().Equal("10.96.0.31");
        Ask("30.0.96.10.in-addr.arpa", RecordType.Ptr).ReturnCode.Should().Be(ReturnCode.NxDomain);
        Ask("_http._tcp.web.default.svc.cluster.local", RecordType.Srv).ReturnCode.Should().Be(ReturnCode.NxDomain);
        _zone.RemoveService("default", "web").Should().BeTrue();
        Ask("web.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
        _zone.ServiceCount.Should().Be(1);
    }

    [Fact]
    public void A_slice_whose_service_label_changes_moves_to_the_other_service()
    {
        _zone.SetService(Headless("default", "a"));
        _zone.SetService(Headless("default", "b"));
        _zone.SetEndpointSlice(Slice("default", "s", "a", [Endpoint("10.244.0.1")]));

        _zone.SetEndpointSlice(Slice("default", "s", "b", [Endpoint("10.244.0.1")]));

        Ask("a.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
        Addresses(Ask("b.default.svc.cluster.local", RecordType.A)).Should().Equal("10.244.0.1");
        _zone.SetEndpointSlice(Slice("default", "s", null, [Endpoint("10.244.0.1")]));
        Ask("b.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
    }

    [Fact]
    public void Clear_forgets_everything_but_the_schema_version()
    {
        _zone.SetService(ClusterIP("default", "web", "10.96.0.30"));

        _zone.Clear();

        Ask("web.default.svc.cluster.local", RecordType.A).ReturnCode.Should().Be(ReturnCode.NxDomain);
        Ask("dns-version.cluster.local", RecordType.Txt).Answers.Should().ContainSingle();
        _zone.ServiceCount.Should().Be(0);
    }

    [Fact]
    public void Reverse_names_in_the_service_and_pod_ranges_are_answered_here_and_others_are_not()
    {
        var missing = Ask("99.0.96.10.in-addr.arpa", RecordType.Ptr);
        missing.ReturnCode.Should().Be(ReturnCode.NxDomain);
        missing.Authority.Cast<SoaRecord>().Single().Name.ToString().Should().Be("10.in-addr.arpa.");
        Ask("9.9.244.10.in-addr.arpa", RecordType.Ptr).Authority.Cast<SoaRecord>().Single().Name.ToString().Should().Be("244.10.in-addr.arpa.");

        _zone.Answer(DomainName.Parse("1.2.0.192.in-addr.arpa"), RecordType.Ptr).Should().BeNull();
        _zone.Answer(DomainName.Parse("www.example.com"), RecordType.A).Should().BeNull();
    }

    [Fact]
    public void Another_cluster_domain_and_ttl_are_used_throughout()
    {
        var zone = new ClusterDnsZone(new ClusterDnsOptions { ClusterDomain = "Corp.Example.", Ttl = TimeSpan.FromSeconds(5) });
        zone.SetService(ClusterIP("default", "web", "10.96.0.30"));

        zone.Domain.Should().Be("corp.example");
        var answer = zone.Answer(DomainName.Parse("web.default.svc.corp.example"), RecordType.A)!;
        answer.Answers.Single().TimeToLive.Should().Be(5);
        zone.Answer(DomainName.Parse("web.default.svc.cluster.local"), RecordType.A).Should().BeNull();
        zone.Answer(DomainName.Parse("dns-version.corp.example"), RecordType.Txt)!.Answers.Should().ContainSingle();
    }

    [Fact]
    public void A_cluster_domain_that_is_not_a_name_is_refused()
    {
        var create = () => new ClusterDnsZone(new ClusterDnsOptions { ClusterDomain = "" });

        create.Should().Throw<ArgumentException>().WithMessage("*ClusterDomain*");
    }

    [Fact]
    public async Task Readers_see_whole_record_sets_while_a_writer_changes_them()
    {
        _zone.SetService(Headless("default", "db"));
        using var stop = new CancellationTokenSource();
        var bad = 0;
        var reader = Task.Run(() =>
        {
            var name = DomainName.Parse("db.default.svc.cluster.local");
            while (!stop.IsCancellationRequested)
            {
                var answer = _zone.Answer(name, RecordType.A)!;
                if (answer.ReturnCode == ReturnCode.NoError && answer.Answers.Count != 3)
                {
                    Interlocked.Increment(ref bad);
                }
            }
        });

        for (var i = 0; i < 2_000; i++)
        {
            _zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint($"10.244.{i % 200}.1"), Endpoint($"10.244.{i % 200}.2"), Endpoint($"10.244.{i % 200}.3")]));
        }

        stop.Cancel();
        await reader.WaitAsync(TimeSpan.FromSeconds(10));
        bad.Should().Be(0);
    }
}
