using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using k8s;

namespace Orchestration.Client;

/// <summary>The HTTP handler of a remote client: the kubeconfig's client certificate, and trust in its CA only.</summary>
public static class ClusterHttpHandler
{
    /// <summary>A handler that presents the configuration's client certificate and trusts only its CA (or, when it says so, anything).</summary>
    public static SocketsHttpHandler Create(KubernetesClientConfiguration? config)
    {
        // A server that does not answer the connection in time is treated as unreachable, so the
        // remote client moves on to the next one instead of hanging.
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), EnableMultipleHttp2Connections = true, ConnectTimeout = TimeSpan.FromSeconds(5) };
        if (config is null)
        {
            return handler;
        }

        var ssl = new SslClientAuthenticationOptions();
        if (ClientCertificate(config) is { } certificate)
        {
            ssl.ClientCertificates = [certificate];
        }

        if (config.SkipTlsVerify)
        {
            ssl.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        else if (config.SslCaCerts is { Count: > 0 } authorities)
        {
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }

                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }

        handler.SslOptions = ssl;
        return handler;
    }

    private static X509Certificate2? ClientCertificate(KubernetesClientConfiguration config)
    {
        string? certPem = null;
        string? keyPem = null;
        if (!string.IsNullOrEmpty(config.ClientCertificateData) && !string.IsNullOrEmpty(config.ClientCertificateKeyData))
        {
            certPem = Encoding.UTF8.GetString(Convert.FromBase64String(config.ClientCertificateData));
            keyPem = Encoding.UTF8.GetString(Convert.FromBase64String(config.ClientCertificateKeyData));
        }
        else if (!string.IsNullOrEmpty(config.ClientCertificateFilePath) && !string.IsNullOrEmpty(config.ClientKeyFilePath))
        {
            certPem = File.ReadAllText(config.ClientCertificateFilePath);
            keyPem = File.ReadAllText(config.ClientKeyFilePath);
        }

        if (certPem is null || keyPem is null)
        {
            return null;
        }

        // TLS on Linux wants the key in a form it can use: re-import through PKCS#12.
        using var pem = X509Certificate2.CreateFromPem(certPem, keyPem);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }
}
