using System.Text;

namespace Orchestration.ApiServer.Security;

/// <summary>Writes kubeconfig files: the cluster's address and CA, and a user's client certificate.</summary>
public static class Kubeconfig
{
    /// <summary>A kubeconfig with one cluster, one user and one context, both named <paramref name="name"/>.</summary>
    public static string Create(string name, string server, string caPem, string clientCertificatePem, string clientKeyPem) =>
        Create(name, server, caPem, clientCertificatePem, clientKeyPem, $"{name}-admin");

    /// <summary>A kubeconfig with one cluster and one context named <paramref name="name"/>, and the user entry <paramref name="userEntry"/>.</summary>
    public static string Create(string name, string server, string caPem, string clientCertificatePem, string clientKeyPem, string userEntry)
    {
        static string B64(string pem) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));

        // kubeconfig is YAML, and JSON is YAML: a plain template keeps the file readable.
        return $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {name}
              cluster:
                server: {server}
                certificate-authority-data: {B64(caPem)}
            users:
            - name: {userEntry}
              user:
                client-certificate-data: {B64(clientCertificatePem)}
                client-key-data: {B64(clientKeyPem)}
            contexts:
            - name: {name}
              context:
                cluster: {name}
                user: {userEntry}
                namespace: default
            current-context: {name}
            preferences: {"{}"}

            """;
    }
}
