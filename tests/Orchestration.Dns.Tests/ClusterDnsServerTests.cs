using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.Extensions.Time.Testing;
using static Orchestration.Dns.Tests.Objects;
using ArDns = ARSoft.Tools.Net.Dns;

namespace Orchestration.Dns.Tests;

/// <summary>The server over real UDP and TCP sockets on 127.0.0.1, asked by the DnsClient library; upstreams are stubs the tests start on 127.0.0.1.</summary>
[Trait("Category", "Integration")]
public sealed class ClusterDnsServerTests
{
    [Fact]
    public async Task A_ClusterIP_service_is_answered_over_udp_and_tcp()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(ClusterIP("default", "kubernetes", "10.96.0.1", Port("https", 443)));

        foreach (var client in new[] { dns.Client(), dns.Client(tcpOnly: true) })
        {
            var response = await client.QueryAsync("kubernetes.default.svc.cluster.local", QueryType.A);

            response.HasError.Should().BeFalse(response.ErrorMessage);
            response.Header.HasAuthorityAnswer.Should().BeTrue();
            response.Answers.ARecords().Should().ContainSingle().Which.Address.Should().Be(IPAddress.Parse("10.96.0.1"));
            response.Answers.ARecords().Single().InitialTimeToLive.Should().Be(30);
        }
    }

    [Fact]
    public async Task The_answer_keeps_the_case_the_question_was_asked_in()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(ClusterIP("default", "kubernetes", "10.96.0.1"));

        var response = await dns.Client().QueryAsync("KuBeRnEtEs.Default.SVC.cluster.LOCAL", QueryType.A);

        response.Answers.ARecords().Single().DomainName.Original.Should().Be("KuBeRnEtEs.Default.SVC.cluster.LOCAL.");
    }

    [Fact]
    public async Task A_headless_service_answers_with_its_ready_endpoints_and_their_hostnames()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(Headless("default", "db", Port("pg", 5432)));
        dns.Zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.1", hostname: "db-0"), Endpoint("10.244.0.2", hostname: "db-1"), Endpoint("10.244.0.3", ready: false)], SlicePort("pg", 5432)));
        var client = dns.Client();

        var all = await client.QueryAsync("db.default.svc.cluster.local", QueryType.A);
        var one = await client.QueryAsync("db-1.db.default.svc.cluster.local", QueryType.A);

        all.Answers.ARecords().Select(a => a.Address.ToString()).Should().BeEquivalentTo("10.244.0.1", "10.244.0.2");
        one.Answers.ARecords().Should().ContainSingle().Which.Address.Should().Be(IPAddress.Parse("10.244.0.2"));
    }

    [Fact]
    public async Task SRV_records_name_the_port_and_target_with_addresses_in_the_additional_section()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(ClusterIP("default", "kubernetes", "10.96.0.1", Port("https", 443)));
        dns.Zone.SetService(Headless("default", "db", Port("pg", 5432)));
        dns.Zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.1", hostname: "db-0"), Endpoint("10.244.0.2")], SlicePort("pg", 5432)));
        var client = dns.Client();

        var clusterIP = await client.QueryAsync("_https._tcp.kubernetes.default.svc.cluster.local", QueryType.SRV);
        var headless = await client.QueryAsync("_pg._tcp.db.default.svc.cluster.local", QueryType.SRV);

        var srv = clusterIP.Answers.SrvRecords().Should().ContainSingle().Which;
        srv.Port.Should().Be(443);
        srv.Target.Value.Should().Be("kubernetes.default.svc.cluster.local.");
        clusterIP.Additionals.ARecords().Should().ContainSingle().Which.Address.Should().Be(IPAddress.Parse("10.96.0.1"));
        headless.Answers.SrvRecords().Select(r => r.Target.Value).Should().BeEquivalentTo("db-0.db.default.svc.cluster.local.", "10-244-0-2.db.default.svc.cluster.local.");
        headless.Additionals.ARecords().Should().HaveCount(2);
    }

    [Fact]
    public async Task PTR_records_answer_reverse_lookups_of_cluster_ips_and_headless_endpoints()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(ClusterIP("default", "kubernetes", "10.96.0.1"));
        dns.Zone.SetService(Headless("default", "db"));
        dns.Zone.SetEndpointSlice(Slice("default", "db-1", "db", [Endpoint("10.244.0.1", hostname: "db-0")]));
        var client = dns.Client();

        var service = await client.QueryReverseAsync(IPAddress.Parse("10.96.0.1"));
        var endpoint = await client.QueryReverseAsync(IPAddress.Parse("10.244.0.1"));
        var missing = await client.QueryReverseAsync(IPAddress.Parse("10.96.0.99"));

        service.Answers.PtrRecords().Single().PtrDomainName.Value.Should().Be("kubernetes.default.svc.cluster.local.");
        endpoint.Answers.PtrRecords().Single().PtrDomainName.Value.Should().Be("db-0.db.default.svc.cluster.local.");
        missing.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.NotExistentDomain);
    }

    [Fact]
    public async Task An_ExternalName_service_answers_a_CNAME_followed_by_the_upstream_s_records_for_its_target()
    {
        await using var upstream = new StubUpstream(q => StubUpstream.ARecords(q, 300, "192.0.2.80"));
        await using var dns = await DnsServerFixture.StartAsync(o => o.Upstreams.Add(upstream.EndPoint));
        dns.Zone.SetService(ExternalName("default", "search", "www.example.com"));

        var response = await dns.Client().QueryAsync("search.default.svc.cluster.local", QueryType.A);

        var cname = response.Answers.CnameRecords().Should().ContainSingle().Which;
        cname.CanonicalName.Value.Should().Be("www.example.com.");
        response.Answers.ARecords().Should().ContainSingle().Which.Address.Should().Be(IPAddress.Parse("192.0.2.80"));
        upstream.Questions.Should().ContainSingle().Which.Name.ToString().Should().Be("www.example.com.");
    }

    [Fact]
    public async Task The_schema_version_is_served_as_TXT()
    {
        await using var dns = await DnsServerFixture.StartAsync();

        var response = await dns.Client().QueryAsync("dns-version.cluster.local", QueryType.TXT);

        response.Answers.TxtRecords().Single().Text.Should().Equal("1.1.0");
    }

    [Fact]
    public async Task A_missing_name_is_NXDOMAIN_with_the_SOA_and_a_missing_type_NODATA()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(ClusterIP("default", "web", "10.96.0.30"));
        var client = dns.Client();

        var missing = await client.QueryAsync("nothing.default.svc.cluster.local", QueryType.A);
        var noData = await client.QueryAsync("web.default.svc.cluster.local", QueryType.AAAA);

        missing.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.NotExistentDomain);
        missing.Header.HasAuthorityAnswer.Should().BeTrue();
        missing.Authorities.SoaRecords().Should().ContainSingle().Which.DomainName.Value.Should().Be("cluster.local.");
        noData.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.NoError);
        noData.Answers.Should().BeEmpty();
        noData.Authorities.SoaRecords().Should().ContainSingle();
    }

    [Fact]
    public async Task A_large_answer_is_truncated_over_udp_and_whole_over_tcp()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(Headless("default", "big"));
        dns.Zone.SetEndpointSlice(Slice("default", "big-1", "big", Enumerable.Range(1, 100).Select(i => Endpoint($"10.244.1.{i}"))));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        var edns = await dns.ExchangeUdpAsync(socket, Query(1, "big.default.svc.cluster.local", ArDns.RecordType.A, ednsBuffer: 4096));
        var classic = await dns.ExchangeUdpAsync(socket, Query(2, "big.default.svc.cluster.local", ArDns.RecordType.A, ednsBuffer: null));
        var retried = await dns.Client().QueryAsync("big.default.svc.cluster.local", QueryType.A);

        edns.Length.Should().BeLessThanOrEqualTo(1232, "the server's limit caps the client's 4096");
        var ednsAnswer = ArDns.DnsMessage.Parse(edns);
        ednsAnswer.IsTruncated.Should().BeTrue();
        ednsAnswer.AnswerRecords.Count.Should().BeInRange(1, 99);
        classic.Length.Should().BeLessThanOrEqualTo(512);
        ArDns.DnsMessage.Parse(classic).IsTruncated.Should().BeTrue();
        retried.Header.ResultTruncated.Should().BeFalse();
        retried.Answers.ARecords().Should().HaveCount(100);
    }

    [Fact]
    public async Task A_tcp_answer_larger_than_compression_pointers_reach_stays_well_formed()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(Headless("default", "huge", Port("http", 80)));
        var pods = Enumerable.Range(0, 400).ToList();
        dns.Zone.SetEndpointSlice(Slice("default", "huge-v4", "huge", pods.Select(i => Endpoint($"10.244.{i / 250}.{(i % 250) + 1}", hostname: $"pod-{i}")), SlicePort("http", 8080)));
        dns.Zone.SetEndpointSlice(Slice("default", "huge-v6", "huge", pods.Select(i => Endpoint($"fd00::{i + 1:x}", hostname: $"pod-{i}")), SlicePort("http", 8080)));

        var response = await dns.Client(tcpOnly: true).QueryAsync("_http._tcp.huge.default.svc.cluster.local", QueryType.SRV);

        response.MessageSize.Should().BeGreaterThan(0x4000, "past 16 KiB a name cannot be the target of a compression pointer");
        response.Header.ResultTruncated.Should().BeFalse();
        response.Answers.SrvRecords().Select(r => r.Target.Value).Should().BeEquivalentTo(pods.Select(i => $"pod-{i}.huge.default.svc.cluster.local."));
        foreach (var address in response.Additionals.ARecords())
        {
            address.DomainName.Value.Should().Be($"pod-{address.Address.GetAddressBytes()[2] * 250 + address.Address.GetAddressBytes()[3] - 1}.huge.default.svc.cluster.local.");
        }

        foreach (var address in response.Additionals.AaaaRecords())
        {
            address.DomainName.Value.Should().Be($"pod-{address.Address.GetAddressBytes()[15] + (address.Address.GetAddressBytes()[14] * 256) - 1}.huge.default.svc.cluster.local.");
        }
    }

    [Fact]
    public async Task Garbage_gets_FORMERR_when_its_header_can_be_read_and_nothing_otherwise_and_the_server_answers_on()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(ClusterIP("default", "web", "10.96.0.30"));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        // A header that announces a question, then bytes that are no question.
        byte[] garbage = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xFF, 0xFF];
        var formErr = await dns.ExchangeUdpAsync(socket, garbage);

        formErr[..2].Should().Equal(0x12, 0x34);
        (formErr[2] & 0x80).Should().Be(0x80, "it is a response");
        (formErr[3] & 0x0F).Should().Be(1, "FORMERR");

        // Too short for a header: no answer; the next datagram's answer is the first to come back.
        await socket.SendToAsync(new byte[] { 1, 2, 3 }, SocketFlags.None, dns.EndPoint);
        var answer = ArDns.DnsMessage.Parse(await dns.ExchangeUdpAsync(socket, Query(0x5678, "web.default.svc.cluster.local", ArDns.RecordType.A)));

        answer.TransactionID.Should().Be(0x5678);
        answer.AnswerRecords.Should().ContainSingle().Which.Should().BeOfType<ArDns.ARecord>().Which.Address.Should().Be(IPAddress.Parse("10.96.0.30"));
        (await dns.Client().QueryAsync("web.default.svc.cluster.local", QueryType.A)).Answers.ARecords().Should().ContainSingle();
    }

    [Fact]
    public async Task A_response_sent_to_the_server_is_not_answered()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        await socket.SendToAsync(new byte[] { 0xAA, 0xAA, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0 }, SocketFlags.None, dns.EndPoint);
        var first = await dns.ExchangeUdpAsync(socket, Query(0x0101, "dns-version.cluster.local", ArDns.RecordType.Txt));

        BinaryPrimitives.ReadUInt16BigEndian(first).Should().Be(0x0101);
    }

    [Fact]
    public async Task An_oversized_tcp_message_closes_the_connection_and_the_server_answers_on()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        dns.Zone.SetService(ClusterIP("default", "web", "10.96.0.30"));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(dns.EndPoint);

        await socket.SendAsync(new byte[] { 0xFF, 0xFF, 0, 0, 0, 0 }, SocketFlags.None);

        (await IsClosedAsync(socket)).Should().BeTrue("the server closed the connection");
        (await dns.Client(tcpOnly: true).QueryAsync("web.default.svc.cluster.local", QueryType.A)).Answers.ARecords().Should().ContainSingle();
    }

    [Fact]
    public async Task Several_queries_are_answered_on_one_tcp_connection_and_an_idle_one_is_closed()
    {
        await using var dns = await DnsServerFixture.StartAsync(o => o.TcpIdleTimeout = TimeSpan.FromMilliseconds(300));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(dns.EndPoint);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        for (ushort id = 1; id <= 3; id++)
        {
            await socket.SendAsync(Query(id, "dns-version.cluster.local", ArDns.RecordType.Txt, tcp: true), SocketFlags.None);
            var response = await ReadFrameAsync(socket, timeout.Token);
            ArDns.DnsMessage.Parse(response).TransactionID.Should().Be(id);
        }

        (await IsClosedAsync(socket)).Should().BeTrue("the idle connection was closed");
    }

    [Fact]
    public async Task Connections_over_the_limit_are_closed_at_once()
    {
        await using var dns = await DnsServerFixture.StartAsync(o => o.MaxTcpConnections = 1);
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await first.ConnectAsync(dns.EndPoint);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await first.SendAsync(Query(7, "dns-version.cluster.local", ArDns.RecordType.Txt, tcp: true), SocketFlags.None);
        (await ReadFrameAsync(first, timeout.Token)).Should().NotBeEmpty("the first connection is served");

        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await second.ConnectAsync(dns.EndPoint);
        (await IsClosedAsync(second)).Should().BeTrue();
    }

    [Fact]
    public async Task Other_names_are_forwarded_upstream_and_a_repeated_question_is_answered_from_the_cache()
    {
        var time = new FakeTimeProvider();
        await using var upstream = new StubUpstream(q => StubUpstream.ARecords(q, 300, "192.0.2.10"));
        await using var dns = await DnsServerFixture.StartAsync(o => o.Upstreams.Add(upstream.EndPoint), time);
        var client = dns.Client();

        var first = await client.QueryAsync("www.example.com", QueryType.A);
        time.Advance(TimeSpan.FromSeconds(100));
        var second = await client.QueryAsync("WWW.example.com", QueryType.A);

        first.Answers.ARecords().Single().Address.Should().Be(IPAddress.Parse("192.0.2.10"));
        first.Header.HasAuthorityAnswer.Should().BeFalse();
        first.Header.RecursionAvailable.Should().BeTrue();
        second.Answers.ARecords().Single().Address.Should().Be(IPAddress.Parse("192.0.2.10"));
        second.Answers.ARecords().Single().InitialTimeToLive.Should().Be(200, "a cached answer ages");
        upstream.UdpQueries.Should().Be(1);

        time.Advance(TimeSpan.FromSeconds(200));
        await client.QueryAsync("www.example.com", QueryType.A);
        upstream.UdpQueries.Should().Be(2, "the answer expired with its TTL");
    }

    [Fact]
    public async Task Upstream_NXDOMAIN_is_passed_on_and_cached_for_the_SOA_s_negative_ttl()
    {
        await using var upstream = new StubUpstream(q =>
        {
            var response = StubUpstream.Response(q, ArDns.ReturnCode.NxDomain);
            response.AuthorityRecords.Add(new ArDns.SoaRecord(ARSoft.Tools.Net.DomainName.Parse("example.com"), 300, ARSoft.Tools.Net.DomainName.Parse("ns.example.com"), ARSoft.Tools.Net.DomainName.Parse("h.example.com"), 1, 1, 1, 1, 60));
            return response;
        });
        await using var dns = await DnsServerFixture.StartAsync(o => o.Upstreams.Add(upstream.EndPoint));
        var client = dns.Client();

        var first = await client.QueryAsync("missing.example.com", QueryType.A);
        var second = await client.QueryAsync("missing.example.com", QueryType.A);

        first.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.NotExistentDomain);
        second.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.NotExistentDomain);
        second.Authorities.SoaRecords().Should().ContainSingle();
        upstream.UdpQueries.Should().Be(1);
    }

    [Fact]
    public async Task A_failing_upstream_is_skipped_for_the_next_and_SERVFAIL_comes_when_none_answers()
    {
        await using var failing = new StubUpstream(q => StubUpstream.Response(q, ArDns.ReturnCode.ServerFailure));
        await using var working = new StubUpstream(q => q.Questions[0].Name.ToString() == "ok.example.com." ? StubUpstream.ARecords(q, 60, "192.0.2.20") : StubUpstream.Response(q, ArDns.ReturnCode.Refused));
        await using var dns = await DnsServerFixture.StartAsync(o =>
        {
            o.Upstreams.Add(failing.EndPoint);
            o.Upstreams.Add(working.EndPoint);
        });
        var client = dns.Client();

        var ok = await client.QueryAsync("ok.example.com", QueryType.A);
        var refused = await client.QueryAsync("refused.example.com", QueryType.A);

        ok.Answers.ARecords().Single().Address.Should().Be(IPAddress.Parse("192.0.2.20"));
        refused.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.ServerFailure);
        failing.UdpQueries.Should().Be(2);
    }

    [Fact]
    public async Task An_upstream_that_does_not_answer_times_out_into_SERVFAIL()
    {
        await using var silent = new StubUpstream(_ => null);
        await using var dns = await DnsServerFixture.StartAsync(o =>
        {
            o.Upstreams.Add(silent.EndPoint);
            o.UpstreamTimeout = TimeSpan.FromMilliseconds(200);
        });

        var response = await dns.Client().QueryAsync("slow.example.com", QueryType.A);

        response.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.ServerFailure);
        silent.UdpQueries.Should().Be(1);
    }

    [Fact]
    public async Task Without_upstreams_other_names_get_SERVFAIL()
    {
        await using var dns = await DnsServerFixture.StartAsync();

        var response = await dns.Client().QueryAsync("www.example.com", QueryType.A);

        response.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.ServerFailure);
    }

    [Fact]
    public async Task A_truncated_upstream_answer_is_fetched_again_over_tcp()
    {
        await using var upstream = new StubUpstream(q => StubUpstream.ARecords(q, 60, "192.0.2.30", "192.0.2.31")) { TruncateUdp = true };
        await using var dns = await DnsServerFixture.StartAsync(o => o.Upstreams.Add(upstream.EndPoint));

        var response = await dns.Client().QueryAsync("many.example.com", QueryType.A);

        response.Answers.ARecords().Should().HaveCount(2);
        upstream.UdpQueries.Should().Be(1);
        upstream.TcpQueries.Should().Be(1);
    }

    [Fact]
    public async Task Reverse_lookups_outside_the_cluster_ranges_go_upstream_and_inside_them_do_not()
    {
        await using var upstream = new StubUpstream(q =>
        {
            var response = StubUpstream.Response(q, ArDns.ReturnCode.NoError);
            response.AnswerRecords.Add(new ArDns.PtrRecord(q.Questions[0].Name, 60, ARSoft.Tools.Net.DomainName.Parse("host.example.com")));
            return response;
        });
        await using var dns = await DnsServerFixture.StartAsync(o => o.Upstreams.Add(upstream.EndPoint));
        var client = dns.Client();

        var outside = await client.QueryReverseAsync(IPAddress.Parse("192.0.2.1"));
        var inside = await client.QueryReverseAsync(IPAddress.Parse("10.244.9.9"));

        outside.Answers.PtrRecords().Single().PtrDomainName.Value.Should().Be("host.example.com.");
        inside.Header.ResponseCode.Should().Be(DnsHeaderResponseCode.NotExistentDomain);
        upstream.Questions.Select(q => q.Name.ToString()).Should().Equal("1.2.0.192.in-addr.arpa.");
    }

    [Fact]
    public async Task Every_socket_comes_from_the_factory()
    {
        var factory = new RecordingSocketFactory();
        await using var upstream = new StubUpstream(q => StubUpstream.ARecords(q, 60, "192.0.2.40")) { TruncateUdp = true };
        await using var dns = await DnsServerFixture.StartAsync(o => o.Upstreams.Add(upstream.EndPoint), socketFactory: factory);

        await dns.Client().QueryAsync("www.example.com", QueryType.A);

        factory.Created.Should().BeEquivalentTo([
            (SocketType.Dgram, DnsSocketRole.Listener),
            (SocketType.Stream, DnsSocketRole.Listener),
            (SocketType.Dgram, DnsSocketRole.Upstream),
            (SocketType.Stream, DnsSocketRole.Upstream),
        ]);
    }

    [Fact]
    public async Task Listening_on_a_port_another_socket_holds_fails_naming_the_endpoint()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var taken = (IPEndPoint)holder.LocalEndPoint!;
        var options = new ClusterDnsOptions { ListenEndPoints = { taken } };
        await using var server = new ClusterDnsServer(options, new ClusterDnsZone(options));

        var start = () => server.StartAsync();

        (await start.Should().ThrowAsync<InvalidOperationException>()).WithMessage($"*{taken}*");
    }

    [Fact]
    public async Task Answers_go_on_while_the_zone_changes_and_many_clients_ask_at_once()
    {
        await using var dns = await DnsServerFixture.StartAsync();
        for (var i = 0; i < 1_000; i++)
        {
            dns.Zone.SetService(ClusterIP("load", $"svc-{i}", $"10.96.{i / 250}.{(i % 250) + 1}"));
        }

        var clients = Enumerable.Range(0, 8).Select(_ => dns.Client()).ToList();
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < 1_000; i++)
            {
                dns.Zone.SetService(ClusterIP("load", $"svc-{i}", $"10.96.{i / 250}.{(i % 250) + 1}", Port("http", 80 + (i % 3))));
            }
        });
        var queries = clients.Select(async (client, c) =>
        {
            for (var i = c; i < 1_000; i += clients.Count)
            {
                var response = await client.QueryAsync($"svc-{i}.load.svc.cluster.local", QueryType.A);
                response.Answers.ARecords().Single().Address.Should().Be(IPAddress.Parse($"10.96.{i / 250}.{(i % 250) + 1}"));
            }
        });

        await Task.WhenAll([writer, .. queries]);
    }

    /// <summary>A query message as bytes, with an OPT record when an EDNS buffer size is given.</summary>
    private static byte[] Query(ushort id, string name, ArDns.RecordType type, int? ednsBuffer = null, bool tcp = false)
    {
        var query = new ArDns.DnsMessage { TransactionID = id, IsRecursionDesired = true };
        query.Questions.Add(new ArDns.DnsQuestion(ARSoft.Tools.Net.DomainName.Parse(name), type, ArDns.RecordClass.INet));
        if (ednsBuffer is { } size)
        {
            query.EDnsOptions = new ArDns.OptRecord((ushort)size);
        }

        return Wire.DnsWire.Encode(query).ToArraySegment(tcp).ToArray();
    }

    /// <summary>Waits (10 seconds at most) for the server to close the connection: an orderly close or a reset both count; data does not.</summary>
    private static async Task<bool> IsClosedAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    private static async Task<byte[]> ReadFrameAsync(Socket socket, CancellationToken cancellationToken)
    {
        var prefix = new byte[2];
        await ReadExactlyAsync(socket, prefix, cancellationToken);
        var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await ReadExactlyAsync(socket, message, cancellationToken);
        return message;
    }

    private static async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (buffer.Length > 0)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
            if (received == 0)
            {
                throw new IOException("closed");
            }

            buffer = buffer[received..];
        }
    }

    private sealed class RecordingSocketFactory : IDnsSocketFactory
    {
        public List<(SocketType, DnsSocketRole)> Created { get; } = [];

        public Socket Create(AddressFamily addressFamily, SocketType socketType, ProtocolType protocolType, DnsSocketRole role)
        {
            lock (Created)
            {
                Created.Add((socketType, role));
            }

            return new Socket(addressFamily, socketType, protocolType);
        }
    }
}
