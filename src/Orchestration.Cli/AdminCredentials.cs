using Orchestration.ApiServer.Security;

namespace Orchestration.Cli;

/// <summary>The admin user's client certificate, issued once and kept with the cluster's PKI.</summary>
internal static class AdminCredentials
{
    public static (string CertificatePem, string KeyPem) LoadOrIssue(ClusterCertificates certificates, string pkiDirectory)
    {
        var certPath = Path.Combine(pkiDirectory, "admin.crt");
        var keyPath = Path.Combine(pkiDirectory, "admin.key");
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            return (File.ReadAllText(certPath), File.ReadAllText(keyPath));
        }

        var (cert, key) = certificates.IssueClient("orchestration-admin", ["system:masters"], TimeProvider.System);
        File.WriteAllText(certPath, cert);
        File.WriteAllText(keyPath, key);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return (cert, key);
    }
}
