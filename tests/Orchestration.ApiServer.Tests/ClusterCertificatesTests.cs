using System.Net;
using System.Security.Cryptography.X509Certificates;
using Orchestration.ApiServer.Security;

namespace Orchestration.ApiServer.Tests;

/// <summary>The cluster's certificates on disk: made once, and the serving one made again when it lacks a name asked for.</summary>
[Trait("Category", "Unit")]
public sealed class ClusterCertificatesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("orch-pki-").FullName;

    [Fact]
    public void The_serving_certificate_names_the_kubernetes_service_address_and_is_reissued_by_the_same_ca_when_an_older_one_lacks_it()
    {
        var first = ClusterCertificates.LoadOrCreate(_directory, TimeProvider.System);
        IpAddresses(first.Serving).Should().NotContain(IPAddress.Parse("10.96.0.1"));

        var second = ClusterCertificates.LoadOrCreate(_directory, TimeProvider.System, ["10.96.0.1"]);
        var third = ClusterCertificates.LoadOrCreate(_directory, TimeProvider.System, ["10.96.0.1"]);

        IpAddresses(second.Serving).Should().Contain([IPAddress.Parse("10.96.0.1"), IPAddress.Loopback]);
        second.Authority.Thumbprint.Should().Be(first.Authority.Thumbprint, "clients' kubeconfigs keep trusting the server");
        second.Serving.Thumbprint.Should().NotBe(first.Serving.Thumbprint);
        third.Serving.Thumbprint.Should().Be(second.Serving.Thumbprint, "a certificate that covers the names is kept");
        DnsNames(third.Serving).Should().Contain("kubernetes.default.svc");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static IEnumerable<IPAddress> IpAddresses(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateIPAddresses();

    private static IEnumerable<string> DnsNames(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateDnsNames();
}
