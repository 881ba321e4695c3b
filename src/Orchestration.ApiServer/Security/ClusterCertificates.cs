using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;

namespace Orchestration.ApiServer.Security;

/// <summary>
/// The cluster's certificate authority and the certificates it signs: the API server's serving
/// certificate and client certificates for users (CN is the user name, O the groups). Created
/// once in a directory and read from it afterwards, so a restarted server keeps its identity
/// and existing kubeconfig files keep working.
/// </summary>
public sealed class ClusterCertificates
{
    private readonly string _directory;

    private ClusterCertificates(string directory, X509Certificate2 authority, X509Certificate2 serving)
    {
        _directory = directory;
        Authority = authority;
        Serving = serving;
    }

    /// <summary>The CA certificate, with its private key.</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The API server's serving certificate, with its private key.</summary>
    public X509Certificate2 Serving { get; }

    /// <summary>
    /// Loads the certificates from <paramref name="directory"/>, creating what is missing; the serving
    /// certificate also names <paramref name="extraNames"/> (host names or IP addresses), and is issued
    /// again when the one on disk lacks any of them.
    /// </summary>
    public static ClusterCertificates LoadOrCreate(string directory, TimeProvider timeProvider, IEnumerable<string>? extraNames = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        Directory.CreateDirectory(directory);
        var (caCert, caKey) = LoadOrCreatePem(directory, "ca", () =>
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=orchestration-ca", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var now = timeProvider.GetUtcNow();
            using var created = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
            return (created.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
        });
        var authority = X509Certificate2.CreateFromPem(caCert, caKey);
        var names = new[] { "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local" }
            .Concat(extraNames ?? []).Distinct().ToList();
        (string CertificatePem, string KeyPem) IssueServing()
        {
            var (cert, keyPem) = Issue(authority, "CN=kube-apiserver", [], names, server: true, timeProvider);
            return (cert.ExportCertificatePem(), keyPem);
        }

        var (servingCert, servingKey) = LoadOrCreatePem(directory, "apiserver", IssueServing);
        if (!Covers(servingCert, names))
        {
            // A name asked for now (the kubernetes Service's address, say) that an older certificate
            // lacks: a new serving certificate from the same CA, which existing clients still trust.
            (servingCert, servingKey) = IssueServing();
            WritePem(Path.Combine(directory, "apiserver.crt"), servingCert);
            WritePem(Path.Combine(directory, "apiserver.key"), servingKey);
        }

        using var serving = X509Certificate2.CreateFromPem(servingCert, servingKey);

        // Kestrel on Linux wants the key in a form it can use for TLS: re-import through PKCS#12.
        return new ClusterCertificates(directory, authority, Reimport(serving));
    }

    /// <summary>A client certificate for a user; returns the certificate and its private key, both as PEM.</summary>
    public (string CertificatePem, string KeyPem) IssueClient(string user, IEnumerable<string> groups, TimeProvider timeProvider)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        var (cert, keyPem) = Issue(Authority, $"CN={user}", groups, [], server: false, timeProvider);
        return (cert.ExportCertificatePem(), keyPem);
    }

    /// <summary>
    /// The key ServiceAccount tokens are signed with (ECDSA P-256, <c>sa.key</c> beside the CA):
    /// made on first use, read afterwards, so tokens outlive a restart of the API server.
    /// </summary>
    public ECDsa ServiceAccountSigningKey()
    {
        var path = Path.Combine(_directory, "sa.key");
        var key = ECDsa.Create();
        if (File.Exists(path))
        {
            key.ImportFromPem(File.ReadAllText(path));
            return key;
        }

        key.GenerateKey(ECCurve.NamedCurves.nistP256);
        File.WriteAllText(path, key.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return key;
    }

    /// <summary>A user's client certificate kept beside the CA as <c>&lt;name&gt;.crt</c> and <c>.key</c>: issued once, read afterwards.</summary>
    public (string CertificatePem, string KeyPem) LoadOrIssueClient(string name, string user, IEnumerable<string> groups, TimeProvider timeProvider) =>
        LoadOrCreatePem(_directory, name, () => IssueClient(user, groups, timeProvider));

    /// <summary>Credentials for a client of this cluster's API (a kubeconfig's user and CA), with a new client certificate.</summary>
    public KubernetesClientConfiguration ClientConfiguration(string server, string user, IEnumerable<string> groups, TimeProvider timeProvider)
    {
        var (cert, key) = IssueClient(user, groups, timeProvider);
        return new KubernetesClientConfiguration
        {
            Host = server,
            ClientCertificateData = Convert.ToBase64String(Encoding.UTF8.GetBytes(cert)),
            ClientCertificateKeyData = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)),
            SslCaCerts = [Authority],
        };
    }

    /// <summary>Whether a client certificate was signed by this cluster's CA and is valid now.</summary>
    public bool Trusts(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        return chain.Build(certificate);
    }

    private static (X509Certificate2 Certificate, string KeyPem) Issue(X509Certificate2 authority, string subject, IEnumerable<string> groups, IReadOnlyList<string> dnsNames, bool server, TimeProvider timeProvider)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var name = subject + string.Concat(groups.Select(g => $", O={g}"));
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var dns in dnsNames)
            {
                if (IPAddress.TryParse(dns, out var ip))
                {
                    san.AddIpAddress(ip);
                }
                else
                {
                    san.AddDnsName(dns);
                }
            }

            san.AddIpAddress(IPAddress.Loopback);
            san.AddIpAddress(IPAddress.IPv6Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var now = timeProvider.GetUtcNow();
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var authorityKey = authority.GetECDsaPrivateKey() ?? throw new InvalidOperationException("the CA certificate has no private key");
        var generator = X509SignatureGenerator.CreateForECDsa(authorityKey);
        var certificate = request.Create(authority.SubjectName, generator, now.AddMinutes(-5), now.AddYears(5), serial);
        return (certificate, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Whether the certificate names every one of <paramref name="names"/> (host names and IP addresses).</summary>
    private static bool Covers(string certificatePem, IReadOnlyList<string> names)
    {
        using var certificate = X509Certificate2.CreateFromPem(certificatePem);
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return names.Count == 0;
        }

        var dns = san.EnumerateDnsNames().ToHashSet(StringComparer.OrdinalIgnoreCase);
        var ips = san.EnumerateIPAddresses().ToHashSet();
        return names.All(n => IPAddress.TryParse(n, out var ip) ? ips.Contains(ip) : dns.Contains(n));
    }

    /// <summary>A certificate and key kept as PEM files in <paramref name="directory"/>: read when both are there, else created and written.</summary>
    private static (string CertificatePem, string KeyPem) LoadOrCreatePem(string directory, string name, Func<(string CertificatePem, string KeyPem)> create)
    {
        var certPath = Path.Combine(directory, $"{name}.crt");
        var keyPath = Path.Combine(directory, $"{name}.key");
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            return (File.ReadAllText(certPath), File.ReadAllText(keyPath));
        }

        var (cert, key) = create();
        WritePem(certPath, cert);
        WritePem(keyPath, key);
        return (cert, key);
    }

    private static X509Certificate2 Reimport(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);

    private static void WritePem(string path, string pem)
    {
        File.WriteAllText(path, pem);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
