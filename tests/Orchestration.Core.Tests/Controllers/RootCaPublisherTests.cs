using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Orchestration.Client;
using Orchestration.Controllers;
using Orchestration.Controllers.Auth;
using Orchestration.Resources;
using Orchestration.State;

namespace Orchestration.Core.Tests.Controllers;

/// <summary>The root CA publisher: every live namespace holds kube-root-ca.crt with the cluster's CA, put back when changed.</summary>
[Trait("Category", "Unit")]
public sealed class RootCaPublisherTests
{
    private readonly LocalClusterClient _client = new(new ObjectRegistry(new InMemoryStateStore(new StateStoreOptions { CompactionInterval = null }), ResourceKindTable.CreateDefault(), TimeProvider.System));
    private readonly Source _source = new();

    [Fact]
    public async Task A_namespace_gets_the_ca_and_a_changed_copy_is_put_back()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        var publisher = new RootCaPublisher(_client, [_source], NullLogger<RootCaPublisher>.Instance);

        (await publisher.ReconcileAsync(new ObjectKey(null, "team"), CancellationToken.None)).Should().Be(ReconcileResult.Done);
        var published = await _client.GetAsync<V1ConfigMap>("team", "kube-root-ca.crt");
        published.Data.Should().Equal(new Dictionary<string, string> { ["ca.crt"] = "PEM-1" });

        published.Data["ca.crt"] = "tampered";
        published.Data["extra"] = "x";
        await _client.UpdateAsync(published);
        await publisher.ReconcileAsync(new ObjectKey(null, "team"), CancellationToken.None);

        (await _client.GetAsync<V1ConfigMap>("team", "kube-root-ca.crt")).Data.Should().Equal(new Dictionary<string, string> { ["ca.crt"] = "PEM-1" });
    }

    [Fact]
    public async Task Until_the_api_server_knows_its_ca_the_namespace_is_tried_again_and_a_missing_one_is_left_alone()
    {
        await _client.CreateAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = "team" } });
        _source.CertificatePem = null;
        var publisher = new RootCaPublisher(_client, [_source], NullLogger<RootCaPublisher>.Instance);

        (await publisher.ReconcileAsync(new ObjectKey(null, "team"), CancellationToken.None)).RequeueAfter.Should().Be(TimeSpan.FromSeconds(1));
        (await _client.ListAsync<V1ConfigMap>("team")).Items.Should().BeEmpty();

        _source.CertificatePem = "PEM-1";
        (await publisher.ReconcileAsync(new ObjectKey(null, "gone"), CancellationToken.None)).Should().Be(ReconcileResult.Done);
        (await new RootCaPublisher(_client, [], NullLogger<RootCaPublisher>.Instance).ReconcileAsync(new ObjectKey(null, "team"), CancellationToken.None)).Should().Be(ReconcileResult.Done);
        (await _client.ListAsync<V1ConfigMap>("team")).Items.Should().BeEmpty("no API server in this process knows a CA");
    }

    private sealed class Source : IRootCaSource
    {
        public string? CertificatePem { get; set; } = "PEM-1";
    }
}
